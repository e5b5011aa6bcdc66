"""An example metric plug-in: 1.0 when the answer names one of the retrieved sources."""

from __future__ import annotations

from typing import Any


def cites_source(example: dict[str, Any], prediction: dict[str, Any]) -> float:
    sources = [s.get("source", "") for s in prediction.get("sources", [])]
    answer = str(prediction.get("answer", ""))
    return 1.0 if any(src and src.rsplit("/", 1)[-1] in answer for src in sources) else 0.0
