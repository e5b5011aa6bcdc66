"""`finetune.compute.backend: ray`: the fine-tune submitted to a Ray cluster as a Ray job, and
followed until it ends.

The job's working directory holds what training reads (the job file, the prepared examples and
the base model, when it is a built-in or a local folder; a hub model is fetched by the workers);
llmspec's own code goes with it (`py_modules`), the rest of the environment is the cluster's
(its image has `llmspec[train]`) plus `compute.ray.pip`. The job runs
`llmspec.runtime.ray_train`, whose `done` event apply reads from the job's logs.

A job's submission id is ``llmspec-<app>-<env>-<inputs digest>-<storage>-<attempt>`` (the
storage's digest: runners sharing a bucket find each other's job), recorded in the work folder
(``ray-job.json``) and in the resource's outputs. An apply that finds a job of this fine-tune
still running re-attaches to it, one that finished is read back: killing apply never starts a
second job, and never stops the one running (it goes on without us). A failed or stopped job
is followed by a new attempt, which resumes from the checkpoints in the storage.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.step import RunContext, StepFailed
from llmspec.integrations import ray as cluster
from llmspec.kinds.finetune.launch import EVENT, Launched
from llmspec.runtime.contracts import JobConfig

RECORD = "ray-job.json"
RUN_NAME = "train"  # the Ray Train run's folder under the storage


def run_on_ray(
    job: JobConfig,
    ctx: RunContext,
    work: Path,
    base: Path,
    env: Mapping[str, str],
    on_event: Callable[[dict[str, Any]], None],
) -> tuple[Launched, str]:
    """Submit (or re-attach to) the job and follow it; the outcome and the submission id. The
    trained folders are copied from the storage into ``work``, as the local launch leaves them."""
    ray = job.compute.ray
    assert ray is not None
    try:
        cluster.require_ray("`finetune.compute.backend: ray`")
        address = cluster.address_of(ray.address, "`finetune.compute.backend: ray`")
        client = cluster.job_client(address)
        storage = storage_of(job, ctx, work)
    except SpecError as exc:
        raise StepFailed(list(exc.diagnostics)) from exc
    for fresh in (False, True):
        try:
            submission = _attach_or_submit(
                client, job, ctx, work, base, env, storage, address, fresh
            )
        except SpecError as exc:
            raise StepFailed(list(exc.diagnostics)) from exc
        outcome = _follow(client, address, submission, work / "train.log", on_event)
        model = str(outcome.result.pop("model")) if outcome.result else ""
        if _fetch(model, work):
            # the model is in the work folder now; a storage of its own is dead weight, once
            # the job has stopped writing to it
            try:
                info = cluster.status(client, submission)
                stopped = info is None or info.status in cluster.TERMINAL
            except Exception:  # the cluster's answer is not needed: the storage stays
                stopped = False
            if stopped:
                shutil.rmtree(work / "ray", ignore_errors=True)
            shutil.rmtree(work / "ray-job", ignore_errors=True)
            return outcome, submission
        # a finished job whose model is gone (its storage was another machine's or deleted):
        # the same fine-tune is trained again, once
        ctx.log(f"    Ray job {submission} finished, but its model is gone from {model}")
    raise StepFailed(
        [error("LS742", f"Ray job {submission} left no model in {storage}", hint="see its log")]
    )


def _follow(
    client: Any,
    address: str,
    submission: str,
    log_file: Path,
    on_event: Callable[[dict[str, Any]], None],
) -> Launched:
    """The job's log lines into ``log_file`` and its events to ``on_event``, until it ends;
    StepFailed unless it succeeded."""
    outcome = Launched(0)

    def on_line(line: str) -> None:
        at = line.find(EVENT)
        if at < 0:
            log.write(line + "\n")
            return
        event = json.loads(line[at + len(EVENT) :])
        if event["event"] == "done":
            outcome.result = event
        elif event["event"] == "error":
            outcome.error = event
        on_event(event)

    with open(log_file, "a", encoding="utf-8") as log:
        try:
            # the model is in the storage once the `done` event is out: the driver's exit
            # and the cluster's teardown of the worker group are not waited for
            final = cluster.follow(
                client, address, submission, on_line, done=lambda: outcome.result is not None
            )
        except SpecError as exc:
            raise StepFailed(list(exc.diagnostics)) from exc
    if outcome.result is not None:
        return outcome
    if outcome.error is not None:  # a problem with the recipe: the training said so
        raise StepFailed(
            [error("LS711", outcome.error["message"], hint=outcome.error.get("hint") or None)]
        )
    tail = "\n".join(cluster.tail(client, submission))
    raise StepFailed(
        [
            error(
                "LS742",
                f"Ray job {submission} ended {final.status}: {final.message}".rstrip(": "),
                hint=f"`ray job logs {submission}` has the whole log; its end:\n{tail}\n"
                "checkpoints are kept in the storage: apply again to resume from the last",
            )
        ]
    )


def storage_of(job: JobConfig, ctx: RunContext, work: Path) -> str:
    """Where the workers persist checkpoints and the model: the spec's, the build store's
    bucket, or (a cluster on this machine) the work folder."""
    ray = job.compute.ray
    assert ray is not None
    if ray.storage:
        return f"{ray.storage.rstrip('/')}/{ctx.app}/finetune/{work.name}"
    if ctx.build_store is not None:
        return f"{ctx.build_store}/{ctx.app}/finetune/{work.name}/ray"
    return str((work / "ray").resolve())


def _attach_or_submit(
    client: Any,
    job: JobConfig,
    ctx: RunContext,
    work: Path,
    base: Path,
    env: Mapping[str, str],
    storage: str,
    address: str,
    fresh: bool = False,
) -> str:
    prefix = job_prefix(job, ctx, storage)
    try:
        earlier = cluster.jobs_named(client, prefix)
    except Exception as exc:
        raise cluster.unreachable(address, exc) from exc
    if earlier and earlier[-1].status not in ("FAILED", "STOPPED") and not fresh:
        submission = earlier[-1].submission_id
        ctx.log(f"    re-attaching to Ray job {submission} ({earlier[-1].status.lower()})")
        _record(work, address, submission, storage)
        return submission
    submission = f"{prefix}{len(earlier) + 1}"
    stage = _stage(work, base, ctx)
    entrypoint = (
        f"python -m llmspec.runtime.ray_train job.json --storage {storage} --name {RUN_NAME} "
        "--examples examples.jsonl" + (" --base-model base" if (stage / "base").is_dir() else "")
    )
    ray = job.compute.ray
    assert ray is not None
    runtime_env: dict[str, Any] = {
        "working_dir": str(stage),
        "py_modules": [cluster.code_package()],
        "env_vars": {
            **dict(env),
            "TOKENIZERS_PARALLELISM": "false",
            # Ray Train's workers otherwise print each line twice (to stdout and its logger)
            "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",
            "OMP_NUM_THREADS": str(max(1, int(ray.cpus_per_worker))),
            **cluster.storage_env(),
        },
    }
    if ray.pip:
        runtime_env["pip"] = list(ray.pip)
    try:
        client.submit_job(
            entrypoint=entrypoint,
            submission_id=submission,
            runtime_env=runtime_env,
            entrypoint_num_cpus=0,  # the driver waits on the workers: it holds no CPU slot
            metadata={"llmspec.app": ctx.app, "llmspec.env": ctx.env},
        )
    except Exception as exc:
        raise cluster.unreachable(address, exc) from exc
    _record(work, address, submission, storage)
    ctx.log(f"    submitted Ray job {submission} to {address} ({ray.workers} workers)")
    return submission


def job_prefix(job: JobConfig, ctx: RunContext, storage: str) -> str:
    """What a job's id starts with: the fine-tune it trains and where it writes, so that the
    runners sharing a store find each other's job, and two repositories never do."""
    import hashlib

    where = hashlib.sha256(storage.encode()).hexdigest()[:8]
    return f"llmspec-{ctx.app}-{ctx.env}-{job.inputs_digest.split(':')[-1][:12]}-{where}-"


def _stage(work: Path, base: Path, ctx: RunContext) -> Path:
    """The job's working directory: what training reads, and nothing else (Ray uploads it)."""
    stage = work / "ray-job"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    shutil.copy2(work / "job.json", stage / "job.json")
    shutil.copy2(work / "examples.jsonl", stage / "examples.jsonl")
    if ctx.spec.model.source in ("builtin", "local"):
        shutil.copytree(base, stage / "base")
    return stage


def _record(work: Path, address: str, submission: str, storage: str) -> None:
    record = {"address": address, "submission_id": submission, "storage": storage}
    (work / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _fetch(model: str, work: Path) -> bool:
    """The final checkpoint (``model/``, ``merged/``) from the storage into the work folder;
    False when it is not there."""
    from llmspec.runtime.storage import arrow_filesystem

    if not model:
        return False
    for name in ("model", "merged"):
        shutil.rmtree(work / name, ignore_errors=True)
    if not model.startswith("s3://"):
        for name in ("model", "merged"):
            if (Path(model) / name).is_dir():
                shutil.copytree(Path(model) / name, work / name)
        return (work / "model").is_dir()
    from pyarrow import fs

    filesystem, _ = arrow_filesystem(model)
    for name in ("model", "merged"):
        source = f"{model.removeprefix('s3://').rstrip('/')}/{name}"
        if filesystem.get_file_info(source).type == fs.FileType.Directory:
            (work / name).mkdir(parents=True)  # pyarrow writes files, not their folder
            fs.copy_files(source, str(work / name), source_filesystem=filesystem)
    return (work / "model").is_dir()
