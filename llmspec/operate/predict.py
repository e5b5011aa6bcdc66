"""`llmspec predict`: the environment's promoted model over a file of records, in process or
on Ray Data (`--backend ray`, `runtime/ray_predict.py`, the same rows).

Records come from JSON Lines, Parquet or CSV; each is answered on its own, so a bad record (a
line that is not JSON, a missing input field, a model error) is kept as an `error` in its output
row and the rest of the batch goes on. The output has every input column plus `answer`,
`sources`, `latency_ms`, `tokens_in`, `tokens_out` and `error`, in input order, and is written
to a temporary file renamed into place at the end: never half-written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.runtime.batch import FORMATS, answer, model_inputs, read_records, write_rows


@dataclass
class BatchResult:
    output: Path | str  # a local file, or an s3:// object (on Ray)
    records: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line or row, why)
    seconds: float = 0.0
    model_uri: str = ""  # the model that answered


def run_predict(
    ws: Workspace,
    source: str | os.PathLike[str] | None,
    target: str | os.PathLike[str] | None,
    params: dict[str, Any],
    progress: Callable[[int, int], None] | None,
    backend: str,
) -> BatchResult:
    """`llmspec predict`: in process, or on Ray Data (`backend: ray`)."""
    from llmspec.kinds.promote.promoted import promoted_model

    pool = _ray_target(ws) if backend == "ray" else None
    source = source or (pool or {}).get("input")
    target = target or (pool or {}).get("output")
    if not source or not target:
        said = "--input and --output are needed" + (
            " (the `kind: ray` target names no default)" if backend == "ray" else ""
        )
        raise SpecError([error("LS820", said)])
    source, target = str(source), str(target)
    check_paths(source, target)
    promoted = promoted_model(ws)
    if pool is not None:
        return _on_ray(promoted, source, target, params, pool)
    from llmspec.kinds.package.load import load_app_model

    model = load_app_model(promoted.uri, promoted.tracking_uri)
    result = predict_file(model, Path(source), Path(target), params=params, progress=progress)
    return replace(result, model_uri=promoted.uri)


def _ray_target(ws: Workspace) -> dict[str, Any]:
    """The `kind: ray` target's settings (the pool's defaults where the spec has none)."""
    from llmspec.spec.serving import RayTarget

    for target in ws.resolved.spec.serving.targets:
        if isinstance(target, RayTarget):
            return {**target.ray.model_dump(mode="json"), "input": target.input,
                    "output": target.output}  # fmt: skip
    return {**RayTarget(kind="ray").ray.model_dump(mode="json"), "input": None, "output": None}


def _on_ray(
    promoted: Any, source: str, target: str, params: dict[str, Any], pool: dict[str, Any]
) -> BatchResult:
    from llmspec.integrations import ray as cluster

    cluster.require_ray("`llmspec predict --backend ray`")
    address = cluster.address_of(pool.get("address"), "`llmspec predict --backend ray`")
    env_vars = {"MLFLOW_TRACKING_URI": promoted.tracking_uri, **cluster.storage_env()}
    started = time.perf_counter()
    runtime_env = {"py_modules": [cluster.code_package()], "env_vars": env_vars}
    with cluster.driver(address, runtime_env):
        from llmspec.runtime.ray_predict import predict

        outcome = predict(promoted.uri, source, target, pool, params)
    return BatchResult(
        target,
        outcome.records,
        outcome.failed,
        time.perf_counter() - started,
        promoted.uri,
    )


def check_paths(source: str, target: str) -> None:
    """Bad paths fail before the model loads (LS820); an `s3://` object is checked for its
    format only (the store is asked when the batch runs)."""
    problems = []
    if not source.startswith("s3://") and not Path(source).is_file():
        problems.append(error("LS820", f"input {source} does not exist", hint="check the path"))
    for path, role in ((source, "input"), (target, "output")):
        suffix = Path(path).suffix
        if suffix.lower() not in FORMATS:
            problems.append(
                error(
                    "LS820",
                    f"{role} {path}: `{suffix or '(no suffix)'}` is not a supported format",
                    hint="use " + ", ".join(FORMATS),
                )
            )
    local = not source.startswith("s3://") and not target.startswith("s3://")
    if source == target or (local and Path(target).resolve() == Path(source).resolve()):
        problems.append(error("LS820", "the output would overwrite the input"))
    if not target.startswith("s3://") and not Path(target).parent.is_dir():
        problems.append(error("LS820", f"the output's folder {Path(target).parent} does not exist"))
    if problems:
        raise SpecError(problems)


def predict_file(
    model: Any,
    source: Path,
    target: Path,
    *,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Answer every record of ``source`` with the pyfunc ``model`` and write ``target``."""
    inputs = model_inputs(model)
    started = time.perf_counter()
    records = list(read_records(source))
    result = BatchResult(target, len(records))
    rows: list[dict[str, Any]] = []
    for done, (number, record, problem) in enumerate(records, start=1):
        row = answer(model, inputs, number, record, problem, dict(params or {}))
        if row["error"] is not None:
            result.failed.append((number, row["error"]))
        rows.append(row)
        if progress is not None:
            progress(done, len(records))
    write_rows(rows, target)
    result.seconds = time.perf_counter() - started
    return result
