"""What an `index.<table>` resource records: the LanceDB table and the version it built.

The package step pins the served model to this table version, `llmspec query` and the sandbox
read it, a copy into another environment's store starts from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class IndexOutputs(RecordedOutputs):
    uri: str  # the store, resolved (a folder's absolute path, or an object-store URI)
    table: str
    version: int  # the table version this build wrote
    tag: str = ""  # `llmspec-<digest>`: the LanceDB tag naming that version
    rows: int = 0
    embedded: int = 0  # chunks embedded by this build (the rest were unchanged)
    deleted: int = 0
    full_rebuild: bool = False
    model: str = ""  # the embedding model's identity
    dim: int = 0
    indexes: tuple[str, ...] = ()  # "fts", "ivf_pq" …
    copied_from: str | None = None  # `uri#table@version` when copied from another store

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> IndexOutputs:
        """Read recorded outputs; ValueError when the table or its version is missing."""

        def need(key: str) -> Any:
            return required_output(outputs, key, address)

        copied = outputs.get("copied_from")
        return cls(
            uri=str(need("uri")),
            table=str(need("table")),
            version=int(need("version")),
            tag=str(outputs.get("tag", "")),
            rows=int(outputs.get("rows", 0)),
            embedded=int(outputs.get("embedded", 0)),
            deleted=int(outputs.get("deleted", 0)),
            full_rebuild=bool(outputs.get("full_rebuild", False)),
            model=str(outputs.get("model", "")),
            dim=int(outputs.get("dim", 0)),
            indexes=tuple(str(i) for i in outputs.get("indexes", ())),
            copied_from=None if copied is None else str(copied),
        )

    def to_outputs(self) -> dict[str, Any]:
        """The outputs as state records them (JSON values; ``copied_from`` only for a copy)."""
        out: dict[str, Any] = {
            "uri": self.uri,
            "table": self.table,
            "version": self.version,
            "tag": self.tag,
            "rows": self.rows,
            "embedded": self.embedded,
            "deleted": self.deleted,
            "full_rebuild": self.full_rebuild,
            "model": self.model,
            "dim": self.dim,
            "indexes": list(self.indexes),
        }
        if self.copied_from is not None:
            out["copied_from"] = self.copied_from
        return out

    @property
    def pinned(self) -> str:
        """`uri#table@version`: the exact table version, as a copy records its source."""
        return f"{self.uri}#{self.table}@{self.version}"
