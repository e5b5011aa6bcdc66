"""Approvals bound to a plan: `llmspec approve` records one in the journal under the plan's
digest, and apply counts the distinct approvers of the plan it is about to execute. The digest
covers every resource's inputs digest and action and the state serial, so a change to anything
that would be built, or another apply, after the review makes a new plan to approve again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.plans.planner import Plan
from llmspec.plans.saved import SavedPlan, check_saved
from llmspec.state.model import JournalEntry

EVENT = "approve"


def approvers_of(journal: list[JournalEntry], digest: str) -> list[str]:
    """The distinct people who approved the plan with this digest, in order of approval."""
    names: list[str] = []
    for entry in journal:
        if entry.event == EVENT and entry.plan_digest == digest and entry.who not in names:
            names.append(entry.who)
    return names


def record(backend: Any, plan: Plan, by: str, comment: str | None, commit: str | None) -> None:
    backend.append_journal(
        JournalEntry(
            EVENT,
            plan.app,
            plan.env,
            who=by,
            git_commit=commit,
            plan_digest=plan.digest,
            detail={"comment": comment or "", "summary": plan.to_json()["summary"]},
        )
    )


def check(journal: list[JournalEntry], plan: Plan, needed: int, span: Any) -> list[str]:
    """The plan's approvers, when there are enough; else LS605 saying what is missing."""
    names = approvers_of(journal, plan.digest)
    if len(names) >= needed:
        return names
    others = {e.plan_digest for e in journal if e.event == EVENT and e.plan_digest != plan.digest}
    have = f"{len(names)} ({', '.join(names)})" if names else "none"
    why = (
        "; approvals recorded for other plans do not count: the spec, its files or the state "
        "changed since they were given"
        if others
        else ""
    )
    raise SpecError(
        [
            error(
                "LS605",
                f"`{plan.env}` needs {needed} approval(s) of this plan ({plan.digest[:19]}) "
                f"before apply, by the spec's governance or the repository policy; it has "
                f"{have}{why}",
                span,
                hint="save the plan with `llmspec plan … --out plan.json`, have it reviewed and "
                "approved with `llmspec approve plan.json`, then `llmspec apply plan.json`",
            )
        ]
    )


@dataclass(frozen=True)
class Approval:
    """An approval recorded (or, with no changes, nothing to approve): who approved, everyone
    who has approved this plan so far, and how many apply needs."""

    plan: Plan
    by: str | None  # None: the plan has no changes, nothing was recorded
    approvers: tuple[str, ...] = ()
    needed: int = 0

    @property
    def enough(self) -> bool:
        return len(self.approvers) >= self.needed


def approve(ws: Any, saved: SavedPlan, comment: str | None = None) -> Approval:
    """Record the acting user's approval of a saved plan, provided it is still the plan apply
    would execute (LS604 otherwise): only the plan as it stands now can be approved."""
    from llmspec.checks.governance import required_approvals
    from llmspec.core.git import head_commit
    from llmspec.state.model import current_user

    _, plan = ws.plan(saved.targets)
    check_saved(saved, plan)
    if not plan.has_changes:
        return Approval(plan, None)
    by = current_user()
    record(ws.backend, plan, by, comment, head_commit(ws.repo_root))
    names = approvers_of(ws.backend.journal(ws.app, ws.env), plan.digest)
    needed = required_approvals(ws.resolved.spec, ws.repo_root, ws.resolved.env)
    return Approval(plan, by, tuple(names), needed)
