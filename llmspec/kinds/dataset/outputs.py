"""What a `dataset.*` resource records: how many records it checked, and the file's digest
(the fine-tune's MLflow run is tagged with it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class DatasetOutputs(RecordedOutputs):
    records: int
    file_digest: str  # the content digest of the file checked

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> DatasetOutputs:
        return cls(
            int(required_output(outputs, "records", address)),
            str(required_output(outputs, "file_digest", address)),
        )

    def to_outputs(self) -> dict[str, Any]:
        return {"records": self.records, "file_digest": self.file_digest}
