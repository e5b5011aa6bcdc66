"""`llmspec feedback harvest`: failures become tests. The served requests of a window that went
wrong (a person rated the answer down, a person corrected it, or an online judge of
`serving.monitoring.judges` scored it below JUDGE_FAIL_BELOW) become candidate eval records,
written as one JSONL file to review in a pull request and append to an eval dataset.

Each record is shaped for the spec's first eval dataset (its `question_field`, `answer_field`
and `slice_field`), one per line, in this key order::

    {"id": "sha256:3f2a9c1d0b7e",            # of the normalized question: stable across runs
     "<question_field>": "Who can change the plan?",
     "<answer_field>": "Only owners can.",     # the correction, else "" …
     "needs_answer": true,                    # … and this flag (only then): the reviewer writes it
     "<slice_field or slice>": "harvest:corrected",  # or harvest:down-rated,
                                              # harvest:judge-failed:<metric>
     "trace_id": "tr-…", "model_version": "7", # which request, answered by which version
     "served_answer": "…",                    # what the model said
     "rationale": "cites the wrong plan"}     # the rating's comment or the judge's, when given

Records are deduplicated by normalized question (casefolded, whitespace collapsed): the most
informative trace is kept (a correction, then a down-rating, then a judge's verdict; the latest
among equals). A question any of the spec's eval datasets already holds (by normalized question
or by `id`) is left out, so a re-run after the records were added proposes nothing twice.

The file goes to ``output``, else beside the first eval dataset as
`<its stem>.harvest-<env>.jsonl` (`data/eval.jsonl` → `data/eval.harvest-prod.jsonl`), written
whole (temp file + rename); nothing is written when nothing new failed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace

# Judges score 0..1, higher is better (a pass/fail judge's False is 0, True 1): below the
# midpoint the judge leans to "wrong". A stricter line would flood the review with answers
# that are merely not perfect; the rollout's guards, not the harvest, watch small drifts.
JUDGE_FAIL_BELOW = 0.5
# why a trace is harvested, most informative first: a person's answer beats a person's verdict,
# which beats a model's verdict
RANKS = {"corrected": 0, "down-rated": 1, "judge-failed": 2}
HARVEST_SLICE = "harvest"


@dataclass(frozen=True)
class Failure:
    """One served request that went wrong, as its trace records it."""

    question: str
    reason: str  # corrected | down-rated | judge-failed:<metric>
    trace_id: str
    model_version: str
    served_answer: str
    correction: str | None = None
    rationale: str | None = None
    at_ms: int = 0

    @property
    def key(self) -> str:
        return normalized(self.question)

    @property
    def rank(self) -> int:
        return RANKS[self.reason.split(":", 1)[0]]


@dataclass(frozen=True)
class Harvest:
    """What `harvest` found: the records (as written), how many per reason, and what was left
    out. ``output`` is None when nothing failed in the window (no file is written)."""

    output: Path | None
    records: list[dict[str, Any]]
    reasons: dict[str, int]  # `corrected`, `down-rated`, `judge-failed:<metric>` -> records
    traces: int  # traces read in the window
    duplicates: int  # failed traces merged into another with the same question
    already_in_eval: int  # failed questions an eval dataset already holds
    dataset: str  # the eval dataset the records are shaped for
    dataset_path: Path  # and its file, where reviewed records go

    @property
    def need_answers(self) -> int:
        return sum(1 for r in self.records if r.get("needs_answer"))


def harvest(ws: Workspace, output: Path | None, since_ms: int) -> Harvest:
    """The failed requests of the environment's traces since ``since_ms`` (epoch milliseconds)
    as candidate eval records, written to ``output`` (default: beside the first eval dataset).
    A spec without `evaluation` is LS881 before any trace is read; LS810 before the first
    promotion; an output that cannot be written LS880."""
    from llmspec.operate.traffic import served_traces

    spec = ws.resolved.spec
    if spec.evaluation is None:
        raise SpecError(
            [
                error(
                    "LS881",
                    f"`{ws.app}` has no `evaluation`: no eval dataset to shape harvested "
                    "records for",
                    hint="add `evaluation.datasets`; the harvest goes beside the first one",
                )
            ]
        )
    name, dataset = next(iter(spec.evaluation.datasets.items()))
    spec_dir = ws.resolved.path.parent
    dataset_path = spec_dir / dataset.path
    judges = [j.metric for j in spec.serving.monitoring.judges]
    traces = served_traces(ws, since_ms)
    failures = [f for f in (failure(t, judges) for t in traces) if f is not None]
    keys, ids = known_questions(spec_dir, spec.evaluation.datasets.values())
    kept, duplicates, known = select(failures, keys, ids)
    fields = (dataset.question_field, dataset.answer_field, dataset.slice_field or "slice")
    records = [eval_record(f, *fields) for f in kept]
    reasons = dict(Counter(f.reason for f in kept))
    target = None
    if records:
        target = output if output is not None else default_output(dataset_path, ws.env)
        write_records(target, records)
    return Harvest(target, records, reasons, len(traces), duplicates, known, name, dataset_path)


def failure(trace: Any, judges: Sequence[str]) -> Failure | None:
    """Why a trace is worth a test, or None: a correction, else a down-rating, else the worst
    failing verdict of an online judge in ``judges``; None too without a question."""
    info = trace.info
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    inputs = (root.inputs if root is not None else None) or {}
    outputs = (root.outputs if root is not None else None) or {}
    # the server's inputs are the prompt's, the question first (runtime/pyfunc.py)
    question = str(next(iter(inputs.values()), "")) if isinstance(inputs, Mapping) else ""
    if not question.strip():
        return None
    assessments = [a for a in info.assessments or [] if getattr(a, "valid", None) is not False]
    assessments.sort(key=lambda a: a.create_time_ms or 0)
    down = _down_ratings(assessments)
    corrections = [a for a in assessments if a.name == "expected_response" and _text(a.value)]
    verdict = _failed_verdict(assessments, judges)
    comment = next((str(a.rationale) for a in reversed(down) if a.rationale), None)
    served = outputs.get("answer") if isinstance(outputs, Mapping) else None
    base = Failure(
        question=question.strip(),
        reason="",
        trace_id=str(getattr(info, "trace_id", None) or info.request_id),
        model_version=str((info.tags or {}).get("llmspec.model_version", "")),
        served_answer=str(served or ""),
        at_ms=int(info.timestamp_ms or 0),
    )
    if corrections:
        last = corrections[-1]
        return replace(base, reason="corrected", correction=str(last.value).strip(),
                       rationale=comment or _rationale(last))  # fmt: skip
    if down:
        return replace(base, reason="down-rated", rationale=comment)
    if verdict is not None:
        return replace(base, reason=f"judge-failed:{verdict.name}", rationale=_rationale(verdict))
    return None


def _down_ratings(assessments: Sequence[Any]) -> list[Any]:
    """The `user_rating`s that are down, each person's latest rating counting (a person who
    changed their mind to up no longer rates it down)."""
    latest: dict[str, Any] = {}
    for a in assessments:
        if a.name == "user_rating" and isinstance(a.value, bool):
            latest[str(getattr(a.source, "source_id", "") or "")] = a
    return [a for a in latest.values() if a.value is False]


def _failed_verdict(assessments: Sequence[Any], judges: Sequence[str]) -> Any:
    """The lowest of the online judges' latest scores when it is below JUDGE_FAIL_BELOW (ties:
    the judge listed first); a judge that errored gave no verdict."""
    latest: dict[str, tuple[float, Any]] = {}
    for a in assessments:
        score = _score(a) if a.name in judges else None
        if score is not None:
            latest[a.name] = (score, a)
    failing = [latest[m] for m in judges if m in latest and latest[m][0] < JUDGE_FAIL_BELOW]
    return min(failing, key=lambda s: s[0])[1] if failing else None


def _score(assessment: Any) -> float | None:
    value = assessment.value
    if getattr(assessment, "error", None) is not None or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _rationale(assessment: Any) -> str | None:
    return str(assessment.rationale) if assessment.rationale else None


def select(
    failures: Iterable[Failure], known_keys: set[str], known_ids: set[str]
) -> tuple[list[Failure], int, int]:
    """One failure per normalized question, the most informative (lowest rank, then latest),
    leaving out questions the eval datasets hold; with the number merged and left out. Sorted
    by rank, reason and question, so the file reads the same for the same traces."""
    best: dict[str, Failure] = {}
    seen = 0
    known: set[str] = set()
    for f in failures:
        if f.key in known_keys or question_id(f.question) in known_ids:
            known.add(f.key)
            continue
        seen += 1
        kept = best.get(f.key)
        if kept is None or (f.rank, -f.at_ms) < (kept.rank, -kept.at_ms):
            best[f.key] = f
    kept_all = sorted(best.values(), key=lambda f: (f.rank, f.reason, f.key))
    return kept_all, seen - len(kept_all), len(known)


def normalized(question: str) -> str:
    """A question as dedup compares it: casefolded, whitespace collapsed."""
    return " ".join(question.casefold().split())


def question_id(question: str) -> str:
    """The record's `id`: eval's own form for a record without one (`sha256:<12 hex>`, see
    kinds/evaluate/run.example_ids), of the normalized question, so the same question asked in
    another case or spacing gets the same id on every run."""
    return "sha256:" + hashlib.sha256(normalized(question).encode("utf-8")).hexdigest()[:12]


def eval_record(
    f: Failure, question_field: str, answer_field: str, slice_field: str
) -> dict[str, Any]:
    """The failure as a record of the eval dataset (the shape in the module's docstring)."""
    record: dict[str, Any] = {
        "id": question_id(f.question),
        question_field: f.question,
        answer_field: f.correction or "",
    }
    if not f.correction:
        record["needs_answer"] = True
    record[slice_field] = f"{HARVEST_SLICE}:{f.reason}"
    record["trace_id"] = f.trace_id
    record["model_version"] = f.model_version
    record["served_answer"] = f.served_answer
    if f.rationale:
        record["rationale"] = f.rationale
    return record


def known_questions(spec_dir: Path, datasets: Iterable[Any]) -> tuple[set[str], set[str]]:
    """The normalized questions and the `id`s every eval dataset holds. A missing file or a
    line that is not a record is passed over: the dataset step reports those (LS701)."""
    keys: set[str] = set()
    ids: set[str] = set()
    for dataset in datasets:
        path = spec_dir / dataset.path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if record.get(dataset.question_field) is not None:
                keys.add(normalized(str(record[dataset.question_field])))
            if record.get("id") not in (None, ""):
                ids.add(str(record["id"]))
    return keys, ids


def default_output(dataset_path: Path, env: str) -> Path:
    """Beside the eval dataset the records are for, named after it and the environment."""
    return dataset_path.with_name(f"{dataset_path.stem}.harvest-{env}.jsonl")


def write_records(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """The records as JSONL, written whole: a temporary file in the same folder, renamed over
    ``path`` (removed when anything fails); LS880 when that cannot be done."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with suppress(OSError):  # the folder itself may be what failed
            temporary.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        raise SpecError(
            [
                error(
                    "LS880",
                    f"cannot write the harvest `{path}`: {reason}",
                    hint="give --output a file in a folder you can write to",
                )
            ]
        ) from None
