"""`llmspec feedback export`: corrected and up-rated production requests as fine-tune records
in the spec's dataset format, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llmspec.engine.workspace import Workspace


@dataclass(frozen=True)
class Export:
    output: Path
    records: int
    format: str
    skipped: int  # traces with neither a correction nor an up-rating


def export_feedback(ws: Workspace, output: Path, since_ms: int) -> Export:
    from llmspec.operate.feedback import training_records
    from llmspec.operate.traffic import served_traces

    finetune = ws.resolved.spec.finetune
    fmt = finetune.dataset.format if finetune is not None else "chat"
    fields = finetune.dataset.fields.model_dump() if finetune is not None else {}
    records, skipped = training_records(served_traces(ws, since_ms), fmt, fields)
    temporary = output.with_name(f".{output.name}.tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    temporary.replace(output)
    return Export(output, len(records), fmt, skipped)
