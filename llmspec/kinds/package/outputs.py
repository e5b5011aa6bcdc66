"""What a `package.<app>` resource records: the logged MLflow model and its registered version.

Evaluation loads that version, promotion moves an alias to it, `llmspec apply` says where to
find it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class PackageOutputs(RecordedOutputs):
    run_id: str  # the MLflow run that logged the model
    model_uri: str  # `models:/m-…`: the logged model
    registered_name: str
    version: str  # the registered model version, as MLflow spells it
    version_uri: str  # `models:/<name>/<version>`
    tracking_uri: str

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> PackageOutputs:
        """Read recorded outputs; ValueError when one a reader needs is missing."""

        def need(key: str) -> str:
            return str(required_output(outputs, key, address))

        return cls(
            run_id=str(outputs.get("run_id", "")),  # optional: no reader needs it
            model_uri=str(outputs.get("model_uri", "")),  # optional: no reader needs it
            registered_name=need("registered_name"),
            version=need("version"),
            version_uri=need("version_uri"),
            tracking_uri=need("tracking_uri"),
        )

    def to_outputs(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "registered_name": self.registered_name,
            "version": self.version,
            "version_uri": self.version_uri,
            "tracking_uri": self.tracking_uri,
        }
