"""Batch prediction, one record at a time: read the records (JSON Lines, Parquet or CSV), answer
each with the packaged model, write the rows. Shared by `llmspec predict` in process and on Ray
Data (`ray_predict.py`), so both keep a bad record (a line that is not JSON, a missing input
field, a model error) as an `error` in its row, and write every input column plus `answer`,
`sources`, `latency_ms`, `tokens_in`, `tokens_out` and `error`, in input order, to a temporary
file renamed into place at the end: never half-written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMATS = (".jsonl", ".parquet", ".csv")
OUTPUT_COLUMNS = ("answer", "sources", "latency_ms", "tokens_in", "tokens_out", "error")


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


def model_inputs(model: Any) -> list[str]:
    return [c.name for c in model.metadata.get_input_schema().inputs]


def answer(
    model: Any,
    inputs: Sequence[str],
    number: int,
    record: dict[str, Any] | None,
    problem: str | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The output row of one record: its columns and the answer, or the `error` that kept it
    from one."""
    import pandas as pd

    row: dict[str, Any] = dict(record or {})
    missing = [name for name in inputs if record is not None and _blank(record.get(name))]
    if problem is None and missing:
        problem = f"record {number} has no {', '.join(f'`{m}`' for m in missing)}"
    if problem is None:
        try:
            frame = pd.DataFrame([{name: str(row[name]) for name in inputs}])
            answered = model.predict(frame, params=dict(params)).iloc[0].to_dict()
            row.update({k: answered[k] for k in OUTPUT_COLUMNS[:-1]})
            row["sources"] = [str(s) for s in row["sources"]]
        except Exception as exc:  # kept per record: one bad record does not lose the batch
            problem = f"record {number}: {type(exc).__name__}: {exc}"
    if problem is not None:
        row.update(answer=None, sources=[], latency_ms=None, tokens_in=None, tokens_out=None)
    row["error"] = problem
    return row


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def write_rows(rows: list[dict[str, Any]], target: Path) -> None:
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
