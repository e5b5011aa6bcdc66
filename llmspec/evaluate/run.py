"""`apply` of an `eval.<app>` resource: every eval dataset through the registered version.

Each record is answered on its own (a failing record is kept as an error, not fatal), scored
with every metric, and the per-example table is logged to an MLflow run linked to the model
version (`llmspec.eval_run_id`), with each metric's aggregate and bootstrap interval. The
per-example scores are kept (`scores.json`) for the gates, and for the next version's paired
comparison with this one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmspec.diagnostics import SpecError, error
from llmspec.evaluate.score import score_all
from llmspec.evaluate.stats import aggregate_of, bootstrap, in_order
from llmspec.package.load import load_app_model
from llmspec.steps.base import Resource, RunContext, StepFailed
from llmspec.tracking import experiment_for, quiet_mlflow

SCORES = "scores.json"


def metric_key(name: str) -> str:
    """MLflow metric names take no `@`."""
    return name.replace("@", "_at_")


def run_eval(resource: Resource, ctx: RunContext) -> dict[str, Any]:
    quiet_mlflow()
    import mlflow
    import pandas as pd  # type: ignore[import-untyped]
    from mlflow import MlflowClient

    evaluation = ctx.spec.evaluation
    assert evaluation is not None
    package = ctx.inputs[f"package.{ctx.app}"].outputs
    uri = str(package["tracking_uri"])
    client = MlflowClient(tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        model = load_app_model(str(package["version_uri"]))
    except SpecError as exc:
        raise StepFailed(list(exc.diagnostics)) from exc
    question = model.metadata.get_input_schema().inputs[0].name
    metrics = [m.model_dump(mode="json") for m in evaluation.metrics]
    values: dict[str, dict[str, float]] = {}
    slices: dict[str, dict[str, str]] = {}
    tables: dict[str, Any] = {}
    failures = 0
    for name, dataset in evaluation.datasets.items():
        records = _records(ctx.spec_dir / dataset.path)
        predictions = []
        for number, (_, record) in enumerate(records, start=1):
            ctx.progress(number, len(records))
            try:
                frame = pd.DataFrame({question: [str(record.get(dataset.question_field, ""))]})
                row = model.predict(frame).iloc[0].to_dict()
                row["sources"] = [{"source": s} for s in list(row["sources"])]
                row["error"] = None
            except Exception as exc:  # kept per record: one bad record does not lose the run
                failures += 1
                row = {
                    "answer": "",
                    "sources": [],
                    "latency_ms": 0.0,
                    "tokens_in": 0,
                    "tokens_out": 0,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            predictions.append(row)
        scored = score_all(
            metrics,
            [r for _, r in records],
            predictions,
            dataset.answer_field,
            dataset.relevant_field,
            ctx.spec_dir,
        )
        ids = [f"{name}:{line}" for line, _ in records]
        for metric, column in scored.items():
            for example, value, prediction in zip(ids, column, predictions, strict=True):
                if value is not None and prediction["error"] is None:
                    values.setdefault(metric, {})[example] = value
        if dataset.slice_field:
            for example, (_, record) in zip(ids, records, strict=True):
                slices[example] = {dataset.slice_field: str(record.get(dataset.slice_field))}
        tables[name] = pd.DataFrame(
            {
                "id": ids,
                "question": [str(r.get(dataset.question_field, "")) for _, r in records],
                "reference": [str(r.get(dataset.answer_field, "")) for _, r in records],
                "answer": [p["answer"] for p in predictions],
                "sources": [json.dumps([s["source"] for s in p["sources"]]) for p in predictions],
                "error": [p["error"] or "" for p in predictions],
                **{metric_key(m): column for m, column in scored.items()},
            }
        )
    if not values:
        raise StepFailed([error("LS602", "no eval record could be scored")])
    seed, samples = evaluation.bootstrap.seed, evaluation.bootstrap.samples
    summary: dict[str, dict[str, float]] = {}
    for metric, per_example in values.items():
        found = bootstrap(in_order(per_example), aggregate_of(metric), samples=samples, seed=seed)
        summary[metric] = {"value": found.value, "low": found.low, "high": found.high, "n": found.n}
    ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
    scores_file = ctx.artifact_dir / SCORES
    scores_file.write_text(json.dumps({"values": values, "slices": slices}, sort_keys=True))
    name, version = str(package["registered_name"]), str(package["version"])
    experiment = experiment_for(client, ctx.spec, ctx.app, ctx.env, ctx.repo_root)
    tags = {
        "llmspec.app": ctx.app,
        "llmspec.env": ctx.env,
        "llmspec.resource": resource.address,
        "llmspec.inputs_digest": resource.inputs_digest,
        "llmspec.model_version": f"{name}/{version}",
        "llmspec.upstream.package.run_id": str(package["run_id"]),
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
        mlflow.log_metric("eval_errors", failures)
        for dataset_name, frame in tables.items():
            mlflow.log_table(frame, artifact_file=f"eval/{dataset_name}.json")
        mlflow.log_artifact(str(scores_file))
    client.set_model_version_tag(name, version, "llmspec.eval_run_id", run.info.run_id)
    for metric, estimate in summary.items():
        client.set_model_version_tag(
            name, version, f"metric.{metric_key(metric)}", f"{estimate['value']:.6g}"
        )
    ctx.log(
        "    "
        + ", ".join(
            f"{m} {e['value']:.3g} [{e['low']:.3g}, {e['high']:.3g}]" for m, e in summary.items()
        )
        + (f"; {failures} record(s) failed" if failures else "")
    )
    return {
        "run_id": run.info.run_id,
        "tracking_uri": uri,
        "registered_name": name,
        "version": version,
        "scores_file": ctx.relative(scores_file),
        "metrics": summary,
        "errors": failures,
    }


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                out.append((number, json.loads(line)))
    return out
