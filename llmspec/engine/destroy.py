"""Remove what apply created in an environment: every recorded resource, dependents first."""

from __future__ import annotations

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.apply import ApplyResult, Reporter, _delete, deletion_order, lock_diagnostic
from llmspec.engine.workspace import Workspace
from llmspec.plan.planner import Change, Plan, Reason
from llmspec.state.backend import LockHeld
from llmspec.state.model import JournalEntry, LockInfo


def destroy_plan(ws: Workspace) -> Plan:
    state = ws.backend.read(ws.app, ws.env)
    order = list(ws.graph().resources) if state.resources else []
    known = [a for a in order if a in state.resources]
    known += [a for a in state.resources if a not in known]
    changes = tuple(
        Change(
            a,
            state.resources[a].kind,
            "delete",
            (Reason("destroy"),),
            None,
            state.resources[a].inputs_digest,
        )
        for a in known
    )
    return Plan(ws.app, ws.env, str(ws.resolved.path), state.serial, changes)


def destroy(
    ws: Workspace,
    lock_timeout: float | None = None,
    reporter: Reporter | None = None,
    confirmed: Plan | None = None,
) -> ApplyResult:
    """Delete every recorded resource; with ``confirmed`` (the plan a person agreed to), only
    while the state still matches it."""
    reporter = reporter or Reporter()
    timeout = ws.resolved.spec.state.lock_timeout_s if lock_timeout is None else lock_timeout
    try:
        with ws.backend.lock(LockInfo(ws.app, ws.env, "destroy"), timeout):
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
            result = ApplyResult(plan)
            recorded = dict(ws.backend.read(ws.app, ws.env).resources)
            for change in deletion_order(plan.changes, ws.steps):
                reporter.started(change)
                outcome = _delete(ws, change, recorded)
                result.outcomes.append(outcome)
                reporter.finished(outcome)
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
    except LockHeld as exc:
        raise lock_diagnostic(exc, ws.app, ws.env) from None
