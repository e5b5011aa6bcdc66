"""The fine-tune as a Ray job: ``python -m llmspec.runtime.ray_train job.json --storage URI``.

This is the job's driver, run on the cluster in the job's working directory (the job file, the
prepared examples and, when shipped, the base model). It starts Ray Train's `TorchTrainer`
with the recipe's workers; each runs the same entrypoint as `accelerate launch` does
(`llmspec.runtime.train.train`: transformers' Trainer with PEFT, under DDP in the process group
Ray Train sets up: gloo on CPUs, NCCL on GPUs), plus Ray's `RayTrainReportCallback`, so every
checkpoint the Trainer saves is persisted to ``--storage``. When a worker is lost, Ray Train
restarts the group (up to `max_failures` times) and each worker resumes from the newest
complete checkpoint in the storage (so does a new job after a failed one). At the end rank 0
reports the model folder as the last checkpoint; the driver prints the ``done`` event (with
the result ``result.json`` holds beside the model), which apply reads from the job's logs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspec.runtime.contracts import JobConfig
from llmspec.runtime.storage import arrow_filesystem

EVENT = "@@llmspec "
RESULT = "result.json"
# what rank 0 writes into each checkpoint before Ray Train uploads it: every file's size, so a
# resume can tell a whole upload from one a lost worker cut short (a truncated optimizer.pt
# is non-empty, and only unreadable when the resume loads it)
SEAL = "llmspec-checkpoint.json"


def emit(event: str, **fields: Any) -> None:
    print(EVENT + json.dumps({"event": event, **fields}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmspec.runtime.ray_train")
    parser.add_argument("job", type=Path)
    parser.add_argument("--storage", required=True, help="where checkpoints and the model go")
    parser.add_argument("--name", required=True, help="the Ray Train run's name")
    parser.add_argument("--examples", type=Path, help="prepared examples (else each worker's own)")
    parser.add_argument("--base-model", type=Path, help="shipped base model folder")
    parser.add_argument(
        "--workdir", type=Path, help="the repository on every node (a KubeRay image's /workspace)"
    )
    args = parser.parse_args(argv)
    job = JobConfig.from_json(args.job.read_text(encoding="utf-8"))
    result = fit(job, args)
    if result is None:
        return 1
    emit("done", **result)
    return 0


def fit(job: JobConfig, args: argparse.Namespace) -> dict[str, Any] | None:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    ray = job.compute.ray
    assert ray is not None  # a `backend: ray` job always carries its cluster settings
    gpus = ray.gpus_per_worker > 0
    resources = {"CPU": ray.cpus_per_worker, **({"GPU": ray.gpus_per_worker} if gpus else {})}
    filesystem, storage = arrow_filesystem(args.storage)
    trainer = TorchTrainer(
        worker,
        train_loop_config={
            "job": job.to_dict(),
            "name": args.name,
            "storage": args.storage,
            "examples": str(args.examples.resolve()) if args.examples else None,
            "base": str(args.base_model.resolve()) if args.base_model else None,
            "workdir": str(args.workdir) if args.workdir else None,
        },
        torch_config=TorchConfig(backend="nccl" if gpus else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=ray.workers, use_gpu=gpus, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=args.name,
            storage_path=storage,
            storage_filesystem=filesystem,
            failure_config=FailureConfig(max_failures=ray.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    outcome = trainer.fit()
    if outcome.error is not None or outcome.checkpoint is None:
        emit("error", message=f"Ray Train failed: {outcome.error}", hint="")
        return None
    with outcome.checkpoint.as_directory() as folder:
        result = json.loads((Path(folder) / RESULT).read_text(encoding="utf-8"))
    # in the storage: apply downloads it from there
    scheme = "s3://" if args.storage.startswith("s3://") else ""
    result["model"] = scheme + outcome.checkpoint.path
    return dict(result)


def worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: restore the newest persisted checkpoint, train (every checkpoint
    the Trainer saves is reported to Ray Train, which persists it), report the model."""
    import ray.train
    from ray.train import Checkpoint
    from ray.train.huggingface.transformers import RayTrainReportCallback

    from llmspec.runtime.embedding import quiet_libraries
    from llmspec.runtime.train import train

    quiet_libraries()
    if config["workdir"]:  # the spec's data, where the image has the repository
        os.chdir(config["workdir"])
    job = JobConfig.from_dict(config["job"])
    rank = ray.train.get_context().get_world_rank()
    # a folder of this worker's own, as on a node of its own; emptied at each (re)start, since
    # what counts is the persisted checkpoint, not what a lost worker left behind
    run = hashlib.sha256(f"{config['storage']}/{config['name']}".encode()).hexdigest()[:16]
    output = Path(tempfile.gettempdir()) / "llmspec-ray" / run / f"rank-{rank}"
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    restored = _restore(config["storage"], config["name"], output / "checkpoints")
    if restored is not None:
        print(f"llmspec: rank {rank} resumes from {restored}", flush=True)
    args = argparse.Namespace(
        output=output,
        examples=Path(config["examples"]) if config["examples"] else None,
        base_model=Path(config["base"]) if config["base"] else None,
        index_uri=None,
        index_version=None,
    )
    # the seal first: Ray's callback uploads the folder as it is when its turn comes
    callbacks = [seal_callback(), RayTrainReportCallback()]  # type: ignore[no-untyped-call]
    result = train(job, args, callbacks=callbacks)
    if result is None:  # not rank 0: its part of the last report is to take part in it
        ray.train.report({"done": 1.0}, checkpoint=None)
        return
    final = output / "final"
    final.mkdir()
    for name in ("model", "merged"):
        if (output / name).is_dir():
            shutil.move(output / name, final / name)
    (final / RESULT).write_text(json.dumps(result), encoding="utf-8")
    ray.train.report({"done": 1.0}, checkpoint=Checkpoint.from_directory(final))


def seal_callback() -> Any:
    """A Trainer callback writing `SEAL` into each checkpoint the main process saves."""
    from transformers import TrainerCallback

    class Seal(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                seal(folder, state.global_step)

    return Seal()


def seal(folder: Path, step: int) -> None:
    files = {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != SEAL
    }
    text = json.dumps({"step": step, "files": files}, indent=1)
    (folder / SEAL).write_text(text, encoding="utf-8")


def _restore(storage: str, name: str, into: Path) -> str | None:
    """The newest complete checkpoint of this run in the storage, copied to
    ``into/checkpoint-<step>``; its location, or None.

    Ray Train's own `get_checkpoint()` only knows the reports its controller has taken in, and
    it takes in one round of reports per poll: a worker lost while reports queue up (a
    checkpoint every few seconds) restarts from an older one, or from nothing. The storage has
    every persisted checkpoint, and also serves a new job after a failed one."""
    from pyarrow import fs

    filesystem, root = arrow_filesystem(storage)
    filesystem = filesystem or fs.LocalFileSystem()
    run = f"{root.rstrip('/')}/{name}"
    if filesystem.get_file_info(run).type != fs.FileType.Directory:
        return None
    found: list[tuple[int, str]] = []
    for entry in filesystem.get_file_info(fs.FileSelector(run)):
        folder = f"{entry.path}/checkpoint"
        step = _complete_step(filesystem, folder)
        if entry.type == fs.FileType.Directory and step is not None:
            found.append((step, folder))
    if not found:
        return None
    step, folder = max(found)
    target = into / f"checkpoint-{step}"
    if isinstance(filesystem, fs.LocalFileSystem):
        shutil.copytree(folder, target)
    else:
        target.mkdir(parents=True)
        fs.copy_files(folder, str(target), source_filesystem=filesystem)
    return folder


def _complete_step(filesystem: Any, folder: str) -> int | None:
    """The step of a checkpoint folder whose upload is whole: its seal is there and every file
    the seal names has the size it had when saved; None otherwise (an upload cut short by a
    lost worker is passed over, as is a checkpoint without a seal)."""
    from pyarrow import fs

    try:
        with filesystem.open_input_stream(f"{folder}/{SEAL}") as stream:
            sealed = json.loads(stream.read())
        files = filesystem.get_file_info(fs.FileSelector(folder, recursive=True))
    except (FileNotFoundError, OSError, ValueError):
        return None
    prefix = folder.rstrip("/") + "/"
    sizes = {f.path[len(prefix) :]: f.size for f in files if f.type == fs.FileType.File}
    wanted = sealed.get("files") if isinstance(sealed, dict) else None
    if not isinstance(wanted, dict) or "trainer_state.json" not in wanted:
        return None
    if any(sizes.get(name) != size for name, size in wanted.items()):
        return None
    step = sealed.get("step")
    return step if isinstance(step, int) else None


if __name__ == "__main__":
    sys.exit(main())
