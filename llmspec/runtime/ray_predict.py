"""Batch prediction on Ray Data, with the same per-record handling and output as in process.

``python -m llmspec.runtime.ray_predict MODEL_URI --input URI --output URI`` (what the rendered
`kind: ray` target submits as a Ray job); `llmspec predict --backend ray` calls ``predict`` as a
driver. Input and output are local paths or `s3://` objects. The records are read by the
driver (so a line that is not JSON is a row with its `error`, as in process), answered by
`map_batches` over an actor pool in which each actor loads the model once (`models:/…` from the
registry MLFLOW_TRACKING_URI names), and written back in input order, never half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.runtime.batch import answer, model_inputs, read_records, write_rows
from llmspec.runtime.storage import arrow_filesystem


@dataclass
class Answered:
    records: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


class Answerer:
    """One actor of the pool: the model, loaded once."""

    def __init__(self, model_uri: str, params: dict[str, Any]) -> None:
        import warnings

        import mlflow

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = mlflow.pyfunc.load_model(model_uri)
        self.inputs = model_inputs(self.model)
        self.params = params

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        rows = []
        for number, record, problem in zip(
            batch["number"], batch["record"], batch["problem"], strict=True
        ):
            row = answer(
                self.model,
                self.inputs,
                int(number),
                json.loads(str(record)) if record else None,
                str(problem) or None,
                self.params,
            )
            rows.append(json.dumps(row, ensure_ascii=False, default=str))
        return {"number": [int(n) for n in batch["number"]], "row": rows}


def quiet_ray_data() -> None:
    """No progress bars nor INFO lines from Ray Data on the caller's terminal."""
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False


def predict(
    model_uri: str,
    source: str,
    target: str,
    pool: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> Answered:
    """Answer ``source`` into ``target`` on the cluster this process is a driver of."""
    import ray.data

    quiet_ray_data()
    with tempfile.TemporaryDirectory(prefix="llmspec-predict-") as scratch:
        local_source = _local(source, Path(scratch))
        records: list[dict[str, Any]] = [
            {
                "number": number,
                "record": json.dumps(record, default=str) if record is not None else "",
                "problem": problem or "",
            }
            for number, record, problem in read_records(local_source)
        ]
        outcome = Answered(len(records))
        rows: list[dict[str, Any]] = []
        if records:
            gpus = float(pool.get("gpus_per_worker", 0))
            answered = ray.data.from_items(
                records, override_num_blocks=min(len(records), int(pool["workers"]) * 4)
            ).map_batches(
                Answerer,
                fn_constructor_args=(model_uri, dict(params or {})),
                batch_size=int(pool["batch_size"]),
                concurrency=int(pool["workers"]),
                num_cpus=float(pool["cpus_per_worker"]),
                num_gpus=gpus or None,
            )
            with warnings.catch_warnings():  # Ray Data's advice on pools and blocks
                warnings.simplefilter("ignore")
                results = answered.take_all()
            ordered = sorted(results, key=lambda item: int(item["number"]))
            rows = [json.loads(item["row"]) for item in ordered]
        for item, row in zip(records, rows, strict=True):
            if row["error"] is not None:
                outcome.failed.append((int(item["number"]), row["error"]))
        local_target = Path(scratch) / f"output{Path(target).suffix}"
        write_rows(rows, local_target if target.startswith("s3://") else Path(target))
        if target.startswith("s3://"):
            _upload(local_target, target)
    return outcome


def _local(source: str, scratch: Path) -> Path:
    """A local path for ``source``: itself, or an `s3://` object downloaded into ``scratch``."""
    if not source.startswith("s3://"):
        return Path(source)
    filesystem, path = arrow_filesystem(source)
    local = scratch / f"input{Path(path).suffix}"
    with filesystem.open_input_stream(path) as stream, open(local, "wb") as out:
        while block := stream.read(1 << 20):
            out.write(block)
    return local


def _upload(local: Path, target: str) -> None:
    """One object written whole: S3 shows a new object only once its upload completes."""
    filesystem, path = arrow_filesystem(target)
    with open(local, "rb") as handle, filesystem.open_output_stream(path) as stream:
        while block := handle.read(1 << 20):
            stream.write(block)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmspec.runtime.ray_predict", description=__doc__)
    parser.add_argument("model_uri")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpus-per-worker", type=float, default=1.0)
    parser.add_argument("--gpus-per-worker", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    import ray

    ray.init(address=os.environ.get("RAY_ADDRESS") or "auto", logging_level=40)
    pool = {
        "workers": args.workers,
        "cpus_per_worker": args.cpus_per_worker,
        "gpus_per_worker": args.gpus_per_worker,
        "batch_size": args.batch_size,
    }
    outcome = predict(args.model_uri, args.input, args.output, pool)
    print(
        f"wrote {args.output}: {outcome.records - len(outcome.failed)} answered, "
        f"{len(outcome.failed)} failed, {outcome.records} records"
    )
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
