"""Per-example scores of the spec's metrics: built-ins, `module:function` plug-ins and judges.

A plug-in is called as ``function(example, prediction) -> float`` with the eval record and
``{"answer", "sources": [{"source": …}], "latency_ms", "tokens_in", "tokens_out"}``. A judge
metric is graded by another model (`evaluate/judge.py`).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmspec.runtime.metrics import bleu, contains, exact_match, mrr_at_k, recall_at_k, rouge_l

Scorer = Callable[[Mapping[str, Any], Mapping[str, Any]], float | None]
TEXT = {"exact_match": exact_match, "contains": contains, "rouge_l": rouge_l, "bleu": bleu}
FIGURES = {"tokens_in": "tokens_in", "tokens_out": "tokens_out"}


def scorer(
    metric: Mapping[str, Any],
    answer_field: str,
    relevant_field: str,
    spec_dir: Path,
    question_field: str = "question",
    cache_dir: Path | None = None,
) -> Scorer:
    """A function scoring one (record, prediction) pair for this metric."""
    name = metric["name"]
    if metric.get("function"):
        return plugin(metric["function"], spec_dir)
    if metric.get("judge"):
        judge = _judge(json.dumps(metric["judge"], sort_keys=True), spec_dir, cache_dir)
        return lambda record, out: judge.score(
            str(record.get(question_field, "")),
            str(record.get(answer_field, "")),
            str(out["answer"]),
        )
    if name in TEXT:
        measure, options = TEXT[name], dict(metric.get("options") or {})
        given = {k: v for k, v in options.items() if v is not None}
        return lambda record, out: measure(
            str(out["answer"]), str(record.get(answer_field, "")), **given
        )
    if name.startswith("latency_p"):
        return lambda record, out: float(out["latency_ms"])
    if name in FIGURES:
        return lambda record, out: float(out[FIGURES[name]])
    if name == "answer_length":
        return lambda record, out: float(len(str(out["answer"])))
    kind, _, k = name.partition("@")
    at_k = recall_at_k if kind == "retrieval_recall" else mrr_at_k
    return lambda record, out: at_k(
        [s["source"] for s in out["sources"]], list(record.get(relevant_field) or []), int(k)
    )


@lru_cache(maxsize=8)
def _judge(config: str, spec_dir: Path, cache_dir: Path | None) -> Any:
    """A judge model loads once per process, however many datasets and samples it grades."""
    from llmspec.kinds.evaluate.judge import Judge

    return Judge(json.loads(config), spec_dir, cache_dir or spec_dir / ".llmspec-cache")


def plugin(reference: str, spec_dir: Path) -> Scorer:
    """``module:function`` imported from the spec's folder (the repository's own code)."""
    module, _, function = reference.partition(":")
    folder = str(spec_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loaded: Any = getattr(importlib.import_module(module), function)
    return lambda record, out: float(loaded(dict(record), dict(out)))


def score_all(
    metrics: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    predictions: Sequence[Mapping[str, Any]],
    answer_field: str,
    relevant_field: str,
    spec_dir: Path,
    *,
    question_field: str = "question",
    cache_dir: Path | None = None,
    ids: Sequence[str] = (),
) -> dict[str, list[float | None]]:
    """metric -> one score per record; None where nothing was answered. A metric that raises
    on an example stops the evaluation (LS730 naming both): a mean over the examples it
    happened to score would pass a gate it should not."""
    from llmspec.core.diagnostics import error
    from llmspec.engine.step import StepFailed

    out: dict[str, list[float | None]] = {}
    for metric in metrics:
        score = scorer(metric, answer_field, relevant_field, spec_dir, question_field, cache_dir)
        values: list[float | None] = []
        for i, (record, prediction) in enumerate(zip(records, predictions, strict=True)):
            if prediction.get("error"):  # nothing was answered: nothing to score
                values.append(None)
                continue
            try:
                values.append(score(record, prediction))
            except Exception as exc:
                example = ids[i] if i < len(ids) else f"record {i + 1}"
                why = f"{type(exc).__name__}: {exc}"
                raise StepFailed(
                    [
                        error(
                            "LS730",
                            f"metric `{metric['name']}` failed on example `{example}`: {why}",
                            hint="fix the metric (or the record) and apply again; the "
                            "evaluation does not score a subset of its examples",
                        )
                    ]
                ) from exc
        out[metric["name"]] = values
    return out
