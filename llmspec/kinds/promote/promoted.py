"""The model version an environment serves: its registry alias, as apply last promoted it."""

from __future__ import annotations

from dataclasses import dataclass

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace


@dataclass(frozen=True)
class Promoted:
    name: str  # registered model
    alias: str
    tracking_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def promoted_model(ws: Workspace) -> Promoted:
    """The environment's promoted model, or LS615 when apply has not promoted one yet."""
    registry = ws.resolved.spec.serving.registry
    state = None
    if registry is not None:
        state = ws.backend.read(ws.app, ws.env).resources.get(f"promote.{ws.app}@{registry.alias}")
    if registry is None or state is None:
        raise SpecError(
            [
                error(
                    "LS615",
                    f"no version of `{ws.app}` is promoted in `{ws.env}` yet",
                    hint=f"run `llmspec apply {ws.resolved.path} -e {ws.env}` first",
                )
            ]
        )
    return Promoted(
        str(state.outputs["registered_name"]), registry.alias, str(state.outputs["tracking_uri"])
    )
