"""`llmspec predict`: the environment's promoted model over a file of records, in process.

Records come from JSON Lines, Parquet or CSV; each is answered on its own, so a bad record (a
line that is not JSON, a missing input field, a model error) is kept as an `error` in its output
row and the rest of the batch goes on. The output has every input column plus `answer`,
`sources`, `latency_ms`, `tokens_in`, `tokens_out` and `error`, in input order, and is written
to a temporary file renamed into place at the end: never half-written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error

FORMATS = (".jsonl", ".parquet", ".csv")
OUTPUT_COLUMNS = ("answer", "sources", "latency_ms", "tokens_in", "tokens_out", "error")


@dataclass
class BatchResult:
    output: Path
    records: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line or row, why)
    seconds: float = 0.0
    model_uri: str = ""  # the model that answered


def check_paths(source: Path, target: Path) -> None:
    """Bad paths fail before the model loads (LS820)."""
    problems = []
    if not source.is_file():
        problems.append(error("LS820", f"input {source} does not exist", hint="check the path"))
    for path, role in ((source, "input"), (target, "output")):
        if path.suffix.lower() not in FORMATS:
            problems.append(
                error(
                    "LS820",
                    f"{role} {path}: `{path.suffix or '(no suffix)'}` is not a supported format",
                    hint="use " + ", ".join(FORMATS),
                )
            )
    if target.resolve() == source.resolve():
        problems.append(error("LS820", "the output would overwrite the input"))
    if not target.parent.is_dir():
        problems.append(error("LS820", f"the output's folder {target.parent} does not exist"))
    if problems:
        raise SpecError(problems)


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line or row number, record, why it cannot be read) for each input record."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, None, f"line {number} is not JSON: {exc.msg} (column {exc.colno})"
                    continue
                if isinstance(record, dict):
                    yield number, record, None
                else:
                    yield (
                        number,
                        None,
                        f"line {number} is a JSON {type(record).__name__}, not an object",
                    )
        return
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    for number, record in enumerate(frame.to_dict(orient="records"), start=1):
        yield number, record, None


def predict_file(
    model: Any,
    source: Path,
    target: Path,
    *,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Answer every record of ``source`` with the pyfunc ``model`` and write ``target``."""
    import pandas as pd

    inputs = [c.name for c in model.metadata.get_input_schema().inputs]
    started = time.perf_counter()
    records = list(read_records(source))
    result = BatchResult(target, len(records))
    rows: list[dict[str, Any]] = []
    for done, (number, record, problem) in enumerate(records, start=1):
        row: dict[str, Any] = dict(record or {})
        missing = [name for name in inputs if record is not None and _blank(record.get(name))]
        if problem is None and missing:
            problem = f"record {number} has no {', '.join(f'`{m}`' for m in missing)}"
        if problem is None:
            try:
                frame = pd.DataFrame([{name: str(row[name]) for name in inputs}])
                answer = model.predict(frame, params=dict(params or {})).iloc[0].to_dict()
                row.update({k: answer[k] for k in OUTPUT_COLUMNS[:-1]})
                row["sources"] = [str(s) for s in row["sources"]]
            except Exception as exc:  # kept per record: one bad record does not lose the batch
                problem = f"record {number}: {type(exc).__name__}: {exc}"
        if problem is not None:
            result.failed.append((number, problem))
            row.update(answer=None, sources=[], latency_ms=None, tokens_in=None, tokens_out=None)
        row["error"] = problem
        rows.append(row)
        if progress is not None:
            progress(done, len(records))
    _write(rows, target)
    result.seconds = time.perf_counter() - started
    return result


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _write(rows: list[dict[str, Any]], target: Path) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if target.suffix.lower() == ".jsonl":
            with open(temporary, "w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            import pandas as pd

            frame = pd.DataFrame(rows)
            if target.suffix.lower() == ".parquet":
                frame.to_parquet(temporary, index=False)
            else:
                frame.assign(sources=frame["sources"].map(json.dumps)).to_csv(
                    temporary, index=False
                )
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
