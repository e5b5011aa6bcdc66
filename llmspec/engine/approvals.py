"""Approvals bound to a plan: `llmspec approve` records one in the journal under the plan's
digest, and apply counts the distinct approvers of the plan it is about to execute. The digest
covers every resource's inputs digest and action and the state serial, so a change to anything
that would be built, or another apply, after the review makes a new plan to approve again."""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.plan.planner import Plan
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
