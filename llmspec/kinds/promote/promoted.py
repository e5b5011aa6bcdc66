"""The model version an environment serves: its registry alias, as apply last promoted it, and
the tracking server apply recorded. Every command that reads the served model asks here."""

from __future__ import annotations

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.plans.address import Address
from llmspec.state.model import ResourceState

Promoted = PromoteOutputs  # what serve, predict, try and monitor read of the promotion


def promoted_state(ws: Workspace) -> ResourceState | None:
    """The promote resource of the environment's alias, as state records it; None before the
    first promotion or when the spec registers no model."""
    registry = ws.resolved.spec.serving.registry
    if registry is None:
        return None
    address = str(Address.promote(ws.app, registry.alias))
    return ws.backend.read(ws.app, ws.env).resources.get(address)


def promoted_model(ws: Workspace) -> PromoteOutputs:
    """The environment's promoted model, or LS810 when apply has not promoted one yet."""
    promoted = PromoteOutputs.from_state_or_none(promoted_state(ws))
    if promoted is None:
        raise SpecError(
            [
                error(
                    "LS810",
                    f"no version of `{ws.app}` is promoted in `{ws.env}` yet",
                    hint=f"run `llmspec apply {ws.resolved.path} -e {ws.env}` first",
                )
            ]
        )
    return promoted


def recorded_tracking_uri(ws: Workspace) -> str | None:
    """The MLflow tracking URI apply recorded for the environment (any resource that logged to
    MLflow names it); None before anything was logged."""
    resources = ws.backend.read(ws.app, ws.env).resources.values()
    return next(
        (str(r.outputs["tracking_uri"]) for r in resources if "tracking_uri" in r.outputs), None
    )
