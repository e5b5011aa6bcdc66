"""`llmspec rollback`: move an environment's registry alias back to the version it pointed at
before the last promotion, under the apply lock, recorded in state and the journal."""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.locking import holding
from llmspec.engine.workspace import Workspace
from llmspec.integrations.mlflow import Tag
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.plans.address import Address
from llmspec.state.model import JournalEntry, now


@dataclass(frozen=True)
class Rollback:
    name: str  # the registered model
    alias: str
    from_version: str
    to_version: str


def rollback(ws: Workspace, lock_timeout: float = 0.0) -> Rollback:
    """Point the alias at the version before the last promotion; the promote resource's outputs
    now say so too (LS801 when there is none, LS603 while an apply holds the lock)."""
    registry = ws.resolved.spec.serving.registry
    if registry is None:
        raise SpecError([error("LS801", "this spec registers no model: nothing to roll back")])
    alias = registry.alias
    address = str(Address.promote(ws.app, alias))
    with holding(ws, "rollback", lock_timeout):
        state = ws.backend.read(ws.app, ws.env).resources.get(address)
        promoted = PromoteOutputs.from_state_or_none(state)
        running = promoted is not None and (promoted.rollout or {}).get("state") == "running"
        if running:
            raise SpecError(
                [
                    error(
                        "LS870",
                        f"a rollout of `{address}` is running in `{ws.env}`: the alias still "
                        "names the champion",
                        hint=f"end it with `llmspec rollout abort {ws.resolved.path} -e {ws.env}`",
                    )
                ]
            )
        if state is None or promoted is None or not promoted.previous:
            raise SpecError(
                [
                    error(
                        "LS801",
                        f"`{address}` has no earlier version to roll back to in `{ws.env}`",
                        hint="a rollback undoes the last promotion; the first one has none",
                    )
                ]
            )
        from llmspec.integrations.mlflow import client_for

        client = client_for(promoted.tracking_uri)
        name, current, previous = promoted.registered_name, promoted.version, promoted.previous
        client.set_registered_model_alias(name, alias, previous)
        from llmspec.kinds.package.prompts import follow_promotion

        follow_promotion(promoted.tracking_uri, name, previous, alias)
        client.set_model_version_tag(name, current, Tag.ROLLED_BACK_FROM, alias)
        rolled = replace(promoted, version=previous, previous=current, rolled_back_at=now())
        ws.backend.put_resource(ws.app, ws.env, replace(state, outputs=rolled.to_outputs()))
        ws.backend.append_journal(
            JournalEntry(
                "rollback",
                ws.app,
                ws.env,
                result="ok",
                detail={"alias": alias, "from": current, "to": previous},
            )
        )
    return Rollback(name, alias, current, previous)
