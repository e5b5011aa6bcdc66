"""What a `package.<app>` resource records: the logged MLflow model, its registered version and
the app's prompt versions in MLflow's Prompt Registry.

Evaluation loads that version, promotion moves an alias to it (and the prompts' alias to their
versions), `llmspec apply` says where to find it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # template -> `prompts:/<name>/<version>`; empty where the registry held no prompts, and in
    # state written before prompts were registered
    prompts: dict[str, str] = field(default_factory=dict)

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
            prompts={str(k): str(v) for k, v in (outputs.get("prompts") or {}).items()},
        )

    def to_outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "registered_name": self.registered_name,
            "version": self.version,
            "version_uri": self.version_uri,
            "tracking_uri": self.tracking_uri,
        }
        if self.prompts:  # only when there are: a record without them keeps its shape
            out["prompts"] = dict(self.prompts)
        return out
