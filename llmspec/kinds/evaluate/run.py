"""`apply` of an `eval.<app>` resource: every eval dataset through the registered version.

Each record is answered on its own (a failing record is kept as an error, not fatal), `repeats`
times when a gate asks for a pass rate over samples, and scored with every metric (judges
included). An example's value is the mean over its samples. The per-sample table is logged to
an MLflow run linked to the model version (`llmspec.eval_run_id`), with each metric's aggregate
and bootstrap interval. The scores are kept (`scores.json`) for the gates, and for the next
version's paired comparison with this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.integrations.mlflow import Tag, experiment_for, quiet_mlflow
from llmspec.kinds.evaluate.outputs import EvalOutputs
from llmspec.kinds.evaluate.score import score_all
from llmspec.kinds.evaluate.stats import aggregate_of, bootstrap, in_order, mean
from llmspec.kinds.package.load import load_app_model
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.plans.address import Address

SCORES = "scores.json"
FAILED = {"answer": "", "sources": [], "latency_ms": 0.0, "tokens_in": 0, "tokens_out": 0}


def metric_key(name: str) -> str:
    """MLflow metric names take no `@`."""
    return name.replace("@", "_at_")


@dataclass
class Results:
    """Everything scored: metric -> example -> per-sample values, example slices, tables."""

    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    slices: dict[str, dict[str, str]] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    failures: int = 0

    def values(self) -> dict[str, dict[str, float]]:
        """Each example's value: the mean over its samples."""
        return {m: {k: mean(v) for k, v in ex.items()} for m, ex in self.samples.items()}


def run_eval(resource: Resource, ctx: RunContext) -> dict[str, Any]:
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    evaluation = ctx.spec.evaluation
    assert evaluation is not None
    package = PackageOutputs.from_state(ctx.inputs[str(Address.package(ctx.app))])
    uri = package.tracking_uri
    try:
        model = load_app_model(package.version_uri, uri)
    except SpecError as exc:
        raise StepFailed(list(exc.diagnostics)) from exc
    repeats = max((g.repeats for g in evaluation.gates), default=1)
    results = Results()
    for name, dataset in evaluation.datasets.items():
        _evaluate(model, name, dataset, repeats, ctx, results)
    values = results.values()
    if not values:
        raise StepFailed([error("LS602", "no eval record could be scored")])
    seed, samples = evaluation.bootstrap.seed, evaluation.bootstrap.samples
    summary: dict[str, dict[str, float]] = {}
    for metric, per_example in values.items():
        found = bootstrap(in_order(per_example), aggregate_of(metric), samples=samples, seed=seed)
        summary[metric] = {"value": found.value, "low": found.low, "high": found.high, "n": found.n}
    ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
    scores_file = ctx.artifact_dir / SCORES
    scores = {"values": values, "slices": results.slices}
    if repeats > 1:
        scores["samples"] = results.samples
    scores_file.write_text(json.dumps(scores, sort_keys=True))
    name, version = package.registered_name, package.version
    client = MlflowClient(tracking_uri=uri)
    experiment = experiment_for(client, ctx.spec, ctx.app, ctx.env, ctx.repo_root)
    tags = {
        Tag.APP: ctx.app,
        Tag.ENV: ctx.env,
        Tag.RESOURCE: resource.address,
        Tag.INPUTS_DIGEST: resource.inputs_digest,
        Tag.MODEL_VERSION: f"{name}/{version}",
        Tag.UPSTREAM_RUN_ID.format("package"): package.run_id,
    }
    with mlflow.start_run(experiment_id=experiment, run_name=resource.address, tags=tags) as run:
        for metric, estimate in summary.items():
            key = metric_key(metric)
            mlflow.log_metrics(
                {
                    key: estimate["value"],
                    f"{key}_ci_low": estimate["low"],
                    f"{key}_ci_high": estimate["high"],
                }
            )
        mlflow.log_metric("eval_errors", results.failures)
        mlflow.log_param("repeats", repeats)
        for dataset_name, frame in results.tables.items():
            mlflow.log_table(frame, artifact_file=f"eval/{dataset_name}.json")
        mlflow.log_artifact(str(scores_file))
    client.set_model_version_tag(name, version, Tag.EVAL_RUN_ID, run.info.run_id)
    for metric, estimate in summary.items():
        client.set_model_version_tag(
            name, version, f"metric.{metric_key(metric)}", f"{estimate['value']:.6g}"
        )
    ctx.log(
        "    "
        + ", ".join(
            f"{m} {e['value']:.3g} [{e['low']:.3g}, {e['high']:.3g}]" for m, e in summary.items()
        )
        + (f"; {results.failures} answer(s) failed" if results.failures else "")
    )
    return EvalOutputs(
        run_id=run.info.run_id,
        tracking_uri=uri,
        registered_name=name,
        version=version,
        scores_file=ctx.relative(scores_file),
        metrics=summary,
        errors=results.failures,
        repeats=repeats,
    ).to_outputs()


def _evaluate(
    model: Any, name: str, dataset: Any, repeats: int, ctx: RunContext, results: Results
) -> None:
    """Answer, score and tabulate one dataset into ``results``."""
    import pandas as pd  # type: ignore[import-untyped]

    records = _records(ctx.spec_dir / dataset.path)
    plain = [r for _, r in records]
    ids = example_ids(name, plain, dataset.question_field)
    question = model.metadata.get_input_schema().inputs[0].name
    questions = [str(r.get(dataset.question_field, "")) for r in plain]
    metrics = [m.model_dump(mode="json") for m in ctx.spec.evaluation.metrics]  # type: ignore[union-attr]
    rows: list[dict[str, Any]] = []
    total = len(records) * repeats
    for sample in range(repeats):
        predictions = _answers(model, question, questions, ctx.progress, sample * len(ids), total)
        results.failures += sum(p["error"] is not None for p in predictions)
        scored = score_all(
            metrics,
            plain,
            predictions,
            dataset.answer_field,
            dataset.relevant_field,
            ctx.spec_dir,
            question_field=dataset.question_field,
            cache_dir=ctx.cache_dir / "models",
            ids=ids,
        )
        for metric, column in scored.items():
            for example, value, prediction in zip(ids, column, predictions, strict=True):
                if value is not None and prediction["error"] is None:
                    results.samples.setdefault(metric, {}).setdefault(example, []).append(value)
        rows.extend(
            {
                "id": example,
                "sample": sample,
                "question": questions[i],
                "reference": str(plain[i].get(dataset.answer_field, "")),
                "answer": p["answer"],
                "sources": json.dumps([s["source"] for s in p["sources"]]),
                "error": p["error"] or "",
                **{metric_key(m): column[i] for m, column in scored.items()},
            }
            for i, (example, p) in enumerate(zip(ids, predictions, strict=True))
        )
    if dataset.slice_field:
        for example, record in zip(ids, plain, strict=True):
            results.slices[example] = {dataset.slice_field: str(record.get(dataset.slice_field))}
    results.tables[name] = pd.DataFrame(rows)


def _answers(
    model: Any,
    question: str,
    questions: Sequence[str],
    progress: Callable[[int, int], None],
    done: int,
    total: int,
) -> list[dict[str, Any]]:
    """One prediction per question; a failing one is kept with its error, not fatal."""
    import pandas as pd

    out = []
    for number, text in enumerate(questions, start=1):
        progress(done + number, total)
        try:
            row = model.predict(pd.DataFrame({question: [text]})).iloc[0].to_dict()
            row["sources"] = [{"source": s} for s in list(row["sources"])]
            row["error"] = None
        except Exception as exc:  # kept per record: one bad record does not lose the run
            row = {**FAILED, "error": f"{type(exc).__name__}: {exc}"}
        out.append(row)
    return out


def example_ids(
    dataset: str, records: Sequence[Mapping[str, Any]], question_field: str
) -> list[str]:
    """A stable identity per eval example, so that a paired comparison with the champion, the
    repeats of a sample and the per-example table match the same question wherever it stands
    in the file: `<dataset>:<id>` from the record's `id` field, else `<dataset>:sha256:<12 hex>`
    of its question; a repeated identity gets `#2`, `#3`… in file order."""
    import hashlib
    from collections import Counter

    seen: Counter[str] = Counter()
    out = []
    for record in records:
        given = record.get("id")
        if given is not None and str(given) != "":
            key = str(given)
        else:
            question = str(record.get(question_field, ""))
            key = "sha256:" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:12]
        seen[key] += 1
        out.append(f"{dataset}:{key}" + (f"#{seen[key]}" if seen[key] > 1 else ""))
    return out


def _records(path: Path) -> list[tuple[int, Mapping[str, Any]]]:
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                out.append((number, json.loads(line)))
    return out
