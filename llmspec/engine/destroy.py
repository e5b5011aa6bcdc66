"""Remove what apply created in an environment: every recorded resource, dependents first."""

from __future__ import annotations

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.apply import ApplyResult, _delete
from llmspec.engine.hooks import Hook
from llmspec.engine.locking import holding
from llmspec.engine.workspace import Workspace
from llmspec.plans.order import deletion_order
from llmspec.plans.planner import Change, Plan, Reason
from llmspec.state.model import JournalEntry


def destroy_plan(ws: Workspace) -> Plan:
    """A delete for every recorded resource, in the order they will run: dependents first,
    from the recorded edges and the spec's graph (state written before ``after`` edges were
    recorded lacks a deployment's edge to its promotion)."""
    state = ws.backend.read(ws.app, ws.env)
    resources = ws.graph().resources if state.resources else {}
    edges = {a: (*r.deps, *r.after) for a, r in resources.items()}
    changes = [
        Change(a, r.kind, "delete", (Reason("destroy"),), None, r.inputs_digest)
        for a, r in state.resources.items()
    ]
    ordered = tuple(deletion_order(changes, state.resources, edges))
    return Plan(ws.app, ws.env, str(ws.resolved.path), state.serial, ordered)


def destroy(
    ws: Workspace,
    lock_timeout: float | None = None,
    hook: Hook | None = None,
    confirmed: Plan | None = None,
) -> ApplyResult:
    """Delete every recorded resource; with ``confirmed`` (the plan a person agreed to), only
    while the state still matches it."""
    hook = hook or Hook()
    timeout = ws.resolved.spec.state.lock_timeout_s if lock_timeout is None else lock_timeout
    with holding(ws, "destroy", timeout):
        plan = destroy_plan(ws)
        if confirmed is not None and confirmed.digest != plan.digest:
            raise SpecError(
                [
                    error(
                        "LS604",
                        "state changed after the destroy plan was shown; nothing was removed",
                        hint="run `llmspec destroy` again and review it",
                    )
                ]
            )
        result = ApplyResult(plan, workspace=ws)
        recorded = dict(ws.backend.read(ws.app, ws.env).resources)
        for change in plan.changes:  # in deletion order
            hook.started(change)
            outcome = _delete(ws, change, recorded, hook)
            result.outcomes.append(outcome)
            hook.finished(outcome)
        ws.backend.append_journal(
            JournalEntry(
                "destroy-finished",
                ws.app,
                ws.env,
                result="ok" if result.ok else "failed",
                detail={o.address: o.status for o in result.outcomes},
            )
        )
        return result
