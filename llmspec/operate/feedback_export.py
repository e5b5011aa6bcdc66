"""`llmspec feedback export`: corrected and up-rated production requests as fine-tune records
in the spec's dataset format, or, with the `preference` format, the comparisons people and
online judges made as preference pairs (`operate/preference_pairs.py`); written atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace

FORMATS = ("chat", "instruction", "completion", "preference")


@dataclass(frozen=True)
class Export:
    output: Path
    records: int
    format: str
    skipped: int  # traces that gave no record (preference: that are in no pair)
    reasons: dict[str, int] = field(default_factory=dict)  # preference: pairs per rule


def export_feedback(ws: Workspace, output: Path, since_ms: int, fmt: str | None = None) -> Export:
    """The window's traces as records of ``fmt`` (default: the fine-tune dataset's format)
    in ``output``; an unknown format is LS830 before any trace is read."""
    from llmspec.operate.traffic import served_traces

    finetune = ws.resolved.spec.finetune
    fmt = fmt or (finetune.dataset.format if finetune is not None else "chat")
    if fmt not in FORMATS:
        raise SpecError(
            [
                error(
                    "LS830",
                    f"unknown feedback export format `{fmt}`",
                    hint=f"one of: {', '.join(FORMATS)}",
                )
            ]
        )
    traces = served_traces(ws, since_ms)
    if fmt == "preference":
        return _preference(ws, output, traces)
    from llmspec.operate.feedback import training_records

    fields = finetune.dataset.fields.model_dump() if finetune is not None else {}
    records, skipped = training_records(traces, fmt, fields)
    _write(output, records)
    return Export(output, len(records), fmt, skipped)


def _preference(ws: Workspace, output: Path, traces: Sequence[Any]) -> Export:
    from llmspec.operate.preference_pairs import preference_pairs

    spec = ws.resolved.spec
    # the preference stage's field names and method, where the spec has one
    stage = spec.finetune.preference if spec.finetune is not None else None
    fields = stage.dataset.fields.model_dump() if stage is not None else {}
    method = stage.method if stage is not None else "dpo"
    judges = [j.metric for j in spec.serving.monitoring.judges]
    pairs = preference_pairs(traces, judges, fields, method)
    _write(output, pairs.records)
    return Export(output, len(pairs.records), "preference", pairs.unpaired, pairs.reasons)


def _write(output: Path, records: Sequence[dict[str, Any]]) -> None:
    temporary = output.with_name(f".{output.name}.tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    temporary.replace(output)
