"""What a `promote.<app>@<alias>` resource records: the version the alias now names, the one
it named before (what `llmspec rollback` returns to) and every gate's result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class PromoteOutputs(RecordedOutputs):
    registered_name: str
    alias: str
    version: str  # the version the alias points at
    previous: str | None  # the version it pointed at before (None: the first promotion)
    tracking_uri: str
    gates: tuple[dict[str, Any], ...] = ()  # gate, value, threshold, passed, note
    rolled_back_at: str | None = None  # set by `llmspec rollback`
    rollout: dict[str, Any] | None = None  # the rollout this promotion started (`rollouts.py`)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> PromoteOutputs:
        """Read recorded outputs; ValueError when the model, alias or version is missing."""

        def need(key: str) -> str:
            return str(required_output(outputs, key, address))

        previous, rolled = outputs.get("previous"), outputs.get("rolled_back_at")
        return cls(
            registered_name=need("registered_name"),
            alias=need("alias"),
            version=need("version"),
            previous=None if previous is None else str(previous),
            tracking_uri=need("tracking_uri"),
            gates=tuple(dict(g) for g in outputs.get("gates", ())),
            rolled_back_at=None if rolled is None else str(rolled),
            rollout=dict(outputs["rollout"]) if outputs.get("rollout") else None,
        )

    @property
    def uri(self) -> str:
        """`models:/<name>@<alias>`: what serving loads."""
        return f"models:/{self.registered_name}@{self.alias}"

    def to_outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "registered_name": self.registered_name,
            "alias": self.alias,
            "version": self.version,
            "previous": self.previous,
            "tracking_uri": self.tracking_uri,
            "gates": [dict(g) for g in self.gates],
        }
        if self.rolled_back_at is not None:
            out["rolled_back_at"] = self.rolled_back_at
        if self.rollout is not None:
            out["rollout"] = self.rollout
        return out
