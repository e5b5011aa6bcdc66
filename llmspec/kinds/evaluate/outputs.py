"""What an `eval.<app>` resource records: the evaluated model version, its metrics and where
the per-example scores are (the promotion's gates read them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class EvalOutputs(RecordedOutputs):
    run_id: str  # the MLflow run holding the tables and metrics
    tracking_uri: str
    registered_name: str  # the model version evaluated
    version: str
    scores_file: str  # per-example scores (`scores.json`), relative to the repository root
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # value, low, high, n
    errors: int = 0  # answers that failed
    repeats: int = 1  # samples per example

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> EvalOutputs:
        """Read recorded outputs; ValueError when the version or the scores are missing."""

        def need(key: str) -> str:
            return str(required_output(outputs, key, address))

        return cls(
            run_id=str(outputs.get("run_id", "")),  # optional: no reader needs it
            tracking_uri=need("tracking_uri"),
            registered_name=need("registered_name"),
            version=need("version"),
            scores_file=str(outputs.get("scores_file", "")),  # optional: no reader needs it
            metrics=dict(outputs.get("metrics", {})),
            errors=int(outputs.get("errors", 0)),
            repeats=int(outputs.get("repeats", 1)),
        )

    def to_outputs(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tracking_uri": self.tracking_uri,
            "registered_name": self.registered_name,
            "version": self.version,
            "scores_file": self.scores_file,
            "metrics": self.metrics,
            "errors": self.errors,
            "repeats": self.repeats,
        }
