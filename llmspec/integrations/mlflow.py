"""MLflow in one place: where apply's records go (one experiment per app and environment, its
artifacts under `.llmspec/mlartifacts` with the local store, where the server says with a remote
one), the tag names llmspec writes on runs and model versions and reads back, the trace search of
monitor and feedback export, and the MLflow run of a fine-tune: started once per inputs digest,
resumed after an interruption, closed with the trained model as its artifact."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_FILE = "mlflow-run.json"


class Tag:
    """The tag names llmspec writes on MLflow runs and model versions, and reads back (audit,
    promotion, rollback): one spelling each."""

    APP = "llmspec.app"
    ENV = "llmspec.env"
    USER = "llmspec.user"
    RESOURCE = "llmspec.resource"
    INPUTS_DIGEST = "llmspec.inputs_digest"
    SPEC_DIGEST = "llmspec.spec_digest"
    GIT_COMMIT = "llmspec.git_commit"
    GIT_DIRTY = "llmspec.git_dirty"  # "true": tracked files differed from that commit
    MODEL_VERSION = "llmspec.model_version"
    MODEL_DIGEST = "llmspec.model_digest"
    BASE_MODEL = "llmspec.base_model"
    PROMPT_TEMPLATE = "llmspec.prompt_template"
    # on a model version: its app's prompt versions, JSON {template: `prompts:/<name>/<version>`}
    PROMPTS = "llmspec.prompts"
    # on a prompt version: what identifies it (`<template>@<digest>`, as a trace of a model
    # packaged without the registry names it), and what it renders with besides its template
    PROMPT_DIGEST = "llmspec.prompt_digest"
    SYSTEM_PROMPT = "llmspec.system_prompt"
    PROMPT_INPUTS = "llmspec.prompt_inputs"
    INDEX_VERSION = "llmspec.index_version"
    EVAL_RUN_ID = "llmspec.eval_run_id"
    ATTEMPT = "llmspec.attempt"
    REJECTED = "llmspec.rejected"
    REJECTED_REASONS = "llmspec.rejected_reasons"
    ROLLED_BACK_FROM = "llmspec.rolled_back_from"
    COMPARED_WITH = "llmspec.compared_with"
    ROLLOUT_ENDED = "llmspec.rollout_ended"  # how this version's rollout ended, with figures
    # templates, filled with str.format: an alias, or a resource address
    PROMOTED = "llmspec.promoted.{}"  # alias -> the environment that promoted this version
    APPROVED_BY = "llmspec.approved_by.{}"  # alias -> who approved that promotion
    ROLLOUT = "llmspec.rollout_id.{}"  # alias -> the rollout that brought this version there
    UPSTREAM_RUN_ID = "llmspec.upstream.{}.run_id"  # address -> the run that built an input
    UPSTREAM_DIGEST = "llmspec.upstream.{}.digest"  # address -> the input's inputs digest
    FILE_DIGEST = "llmspec.{}.digest"  # address -> a dataset file's digest


def lineage_tags(repo_root: Path) -> dict[str, str]:
    """The code a run or model version came from: the commit and whether the working tree
    differed from it (empty when the repository is not under git)."""
    from llmspec.core.git import revision

    found = revision(repo_root)
    if found is None:
        return {Tag.GIT_COMMIT: ""}
    return {Tag.GIT_COMMIT: found.commit, Tag.GIT_DIRTY: str(found.dirty).lower()}


def tracking_uri(uri: str, repo_root: Path) -> str:
    """Relative sqlite and file locations are relative to the repository root, so every command
    of a repository shares one local MLflow wherever it runs from."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        path = repo_root / uri.removeprefix("sqlite:///")
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path.resolve()}"
    if "://" not in uri:
        return (repo_root / uri).resolve().as_uri()
    return uri


def quiet_mlflow() -> None:
    """MLflow's database migrations and emoji run links address MLflow's own users."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("alembic", "mlflow", "mlflow.store", "mlflow.tracking"):
        logging.getLogger(name).setLevel(logging.WARNING)


def experiment_id(client: Any, name: str, artifacts: Path) -> str:
    """The experiment's id, created when missing. A local store keeps artifacts in the
    repository (``artifacts``); a tracking server decides for itself (its default artifact root
    or proxied ``mlflow-artifacts:``), so that what one runner logs another can load."""
    from llmspec.core.tracking import is_remote

    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    if is_remote(client.tracking_uri):
        return str(client.create_experiment(name))
    artifacts.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(name, artifact_location=artifacts.resolve().as_uri()))


def experiment_name(spec: Any, app: str, env: str, purpose: str | None = None) -> str:
    """`tracking.experiment`, else `llmspec/<app>/<env>`; a ``purpose`` (the sandbox's tries)
    gets a folder of its own below it."""
    base = spec.tracking.experiment or f"llmspec/{app}/{env}"
    return f"{base}/{purpose}" if purpose else base


def experiment_for(client: Any, spec: Any, app: str, env: str, repo_root: Path) -> str:
    """The experiment of an app in an environment: `tracking.experiment`, or
    `llmspec/<app>/<env>`."""
    from llmspec.core.layout import Layout

    return experiment_id(client, experiment_name(spec, app, env), Layout(repo_root).mlartifacts)


def search_traces(tracking: str, experiment: str, since_ms: int, spans: bool = True) -> list[Any]:
    """Every trace of an experiment since a time (epoch milliseconds), oldest first is not
    promised: callers sort. Monitor and feedback export read production traffic through it;
    ``spans=False`` reads only the traces' info (tags, state, duration, assessments), which is
    what deciding a rollout needs and a fraction of the reading."""
    quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(tracking)
    found: list[Any] = mlflow.search_traces(
        locations=[experiment],
        filter_string=f"timestamp_ms > {since_ms}",
        return_type="list",
        max_results=100_000,
        include_spans=spans,
    )
    # pages of a search the server keeps writing into can repeat a trace: one of each
    unique = {t.info.trace_id: t for t in found}
    return list(unique.values())


def client_for(tracking: str) -> Any:
    """An MLflow client whose registry is the tracking server's own."""
    quiet_mlflow()
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking, registry_uri=tracking)


def flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: json.dumps(value) if isinstance(value, list | dict) else str(value)}


class FinetuneRun:
    """One MLflow run per fine-tune attempt chain: ``open`` starts it, or reopens the run an
    interrupted attempt left behind in the same work folder."""

    def __init__(self, client: Any, run_id: str, resumed: bool) -> None:
        self.client = client
        self.run_id = run_id
        self.resumed = resumed

    @classmethod
    def open(
        cls,
        uri: str,
        experiment: str,
        artifacts: Path,
        work: Path,
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> FinetuneRun:
        quiet_mlflow()
        from mlflow import MlflowClient
        from mlflow.entities import Param, RunTag
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=uri)
        record = work / RUN_FILE
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))["run_id"]
            run = client.get_run(previous)
            if run.info.status != "FINISHED" and run.info.lifecycle_stage == "active":
                client.update_run(previous, status="RUNNING")
                attempt = int(run.data.tags.get(Tag.ATTEMPT, "1")) + 1
                client.set_tag(previous, Tag.ATTEMPT, str(attempt))
                return cls(client, previous, True)
        except (OSError, ValueError, KeyError, MlflowException):
            pass
        run = client.create_run(
            experiment_id(client, experiment, artifacts),
            tags={"mlflow.runName": tags.get(Tag.RESOURCE, "finetune"), **tags},
        )
        run_id = run.info.run_id
        items = sorted(params.items())
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(
                run_id, params=[Param(k, v[:6000]) for k, v in items[start : start + 100]]
            )
        client.log_batch(run_id, tags=[RunTag(Tag.ATTEMPT, "1")])
        record.write_text(json.dumps({"run_id": run_id}), encoding="utf-8")
        return cls(client, run_id, False)

    def log_metrics(self, metrics: Mapping[str, float | None], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items() if v is not None]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_folder(self, folder: Path, path: str) -> None:
        self.client.log_artifacts(self.run_id, str(folder), path)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)

    def loss_history(self) -> list[float]:
        return [m.value for m in self.client.get_metric_history(self.run_id, "loss")]
