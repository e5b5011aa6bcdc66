"""The content-addressed artifact store an app's environments share.

``<root>/<app>/<kind>/<digest>/`` holds what a resource with that inputs digest produced, and
``record.json`` says who built it, where and what it output. When prod plans a resource whose
digest staging already built, the plan says `reuse` and apply takes the recorded outputs instead
of rebuilding: promotion of code and of models become one operation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspec.state.local import atomic_write
from llmspec.state.model import now


@dataclass(frozen=True)
class BuildRecord:
    address: str
    env: str
    inputs_digest: str
    outputs: dict[str, Any]
    built_at: str


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, app: str, kind: str, digest: str) -> Path:
        return self.root / app / kind / digest.split(":")[-1]

    def find(self, app: str, kind: str, digest: str) -> BuildRecord | None:
        path = self.folder(app, kind, digest) / "record.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return BuildRecord(**data)

    def record(
        self, app: str, kind: str, address: str, env: str, digest: str, outputs: dict[str, Any]
    ) -> BuildRecord:
        record = BuildRecord(address, env, digest, outputs, now())
        folder = self.folder(app, kind, digest)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "record.json", json.dumps(record.__dict__, sort_keys=True, indent=2))
        return record
