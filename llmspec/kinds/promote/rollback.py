"""`llmspec rollback`: move an environment's registry alias back to the version it pointed at
before the last promotion, under the apply lock, recorded in state and the journal."""

from __future__ import annotations

import dataclasses
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.state.backend import LockHeld
from llmspec.state.model import JournalEntry, LockInfo, now


def rollback(ws: Workspace, lock_timeout: float = 0.0) -> dict[str, Any]:
    """(alias, from version, to version); the promote resource's outputs now say so too."""
    registry = ws.resolved.spec.serving.registry
    if registry is None:
        raise SpecError([error("LS614", "this spec registers no model: nothing to roll back")])
    alias = registry.alias
    address = f"promote.{ws.app}@{alias}"
    try:
        return _rollback(ws, address, alias, lock_timeout)
    except LockHeld as exc:
        from llmspec.engine.apply import lock_diagnostic

        raise lock_diagnostic(exc, ws.app, ws.env) from exc


def _rollback(ws: Workspace, address: str, alias: str, lock_timeout: float) -> dict[str, Any]:
    with ws.backend.lock(LockInfo(ws.app, ws.env, "rollback"), lock_timeout):
        state = ws.backend.read(ws.app, ws.env).resources.get(address)
        previous = state.outputs.get("previous") if state is not None else None
        if state is None or not previous:
            raise SpecError(
                [
                    error(
                        "LS614",
                        f"`{address}` has no earlier version to roll back to in `{ws.env}`",
                        hint="a rollback undoes the last promotion; the first one has none",
                    )
                ]
            )
        from mlflow import MlflowClient

        from llmspec.integrations.mlflow import quiet_mlflow

        quiet_mlflow()
        outputs = state.outputs
        uri = str(outputs["tracking_uri"])
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        name, current = str(outputs["registered_name"]), str(outputs["version"])
        client.set_registered_model_alias(name, alias, str(previous))
        client.set_model_version_tag(name, current, "llmspec.rolled_back_from", alias)
        rolled = {**outputs, "version": str(previous), "previous": current, "rolled_back_at": now()}
        ws.backend.put_resource(ws.app, ws.env, dataclasses.replace(state, outputs=rolled))
        ws.backend.append_journal(
            JournalEntry(
                "rollback",
                ws.app,
                ws.env,
                result="ok",
                detail={"alias": alias, "from": current, "to": str(previous)},
            )
        )
    return {"alias": alias, "name": name, "from": current, "to": str(previous)}
