"""Show a plan: terminal text (like `terraform plan`), JSON (versioned), Markdown (PR comment)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmspec.plans.planner import ACTIONS, Change, Plan, Reason

if TYPE_CHECKING:
    from llmspec.engine.apps import AppPlans

SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "reuse": "<=",
    "delete": "-",
    "no-op": " ",
}
COLOURS = {
    "create": "32",
    "update": "33",
    "replace": "35",
    "reuse": "36",
    "delete": "31",
    "no-op": "2",
}


def _short(value: Any, width: int = 48) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = text.replace("\n", "\\n")
    if text.startswith("sha256:"):
        text = text[7:19]
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(reason: Reason) -> str:
    if reason.code == "new":
        return "new"
    if reason.code == "removed":
        return "removed from the spec"
    if reason.code == "previous_failed":
        return f"the last apply left it {reason.old}"
    if reason.code == "config_changed":
        return f"{reason.what}: {_short(reason.old)} → {_short(reason.new)}"
    if reason.code == "input_file_changed":
        state = (
            "added" if reason.old is None else "removed" if reason.new == "removed" else "changed"
        )
        return f"file {reason.what} {state}"
    if reason.code == "upstream_changed":
        return f"upstream {reason.what} changed"
    if reason.code == "marked":
        return f"marked for rebuilding by {reason.old} at {reason.new}: {reason.what}"
    if reason.code == "upstream_rebuilt":
        return f"upstream {reason.what} is rebuilt"
    if reason.code == "changed_outside":
        return f"changed outside llmspec: {reason.new}"
    return reason.code


def _headline(change: Change) -> str:
    action = change.action
    if action == "reuse":
        return f"reuse (built in {change.reuse_from})"
    return action


def render_text(plan: Plan, color: bool = False, show_unchanged: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines = [
        f"Plan for {plan.app} in {plan.env} (state serial {plan.state_serial})"
        + (f", targets: {', '.join(plan.targets)}" if plan.targets else ""),
        *([f"Tracking: {plan.tracking}"] if plan.tracking else []),
        "",
    ]
    width = max((len(c.address) for c in plan.changes), default=10)
    for change in plan.changes:
        if change.action == "no-op" and not show_unchanged:
            continue
        symbol = SYMBOLS[change.action]
        head = f"  {symbol:>3} {change.address:<{width}}  {_headline(change)}"
        lines.append(paint(head, COLOURS[change.action]))
        for reason in change.reasons:
            if reason.code != "new":
                lines.append(f"        {describe(reason)}")
        if change.estimate:
            lines.append(f"        work: {change.estimate}")
    if not plan.has_changes:
        lines.append("  No changes: the environment matches the spec.")
    lines += ["", summary(plan)]
    return "\n".join(lines) + "\n"


def summary(plan: Plan) -> str:
    parts = [f"{plan.count(a)} to {a}" for a in ACTIONS if a != "no-op" and plan.count(a)]
    unchanged = plan.count("no-op")
    return "Plan: " + (", ".join(parts) if parts else "nothing to do") + f", {unchanged} unchanged."


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=False, default=str) + "\n"


def render_markdown(plan: Plan) -> str:
    """For a pull-request comment: a summary table, details folded."""
    lines = [f"### llmspec plan: `{plan.app}` in `{plan.env}`", "", summary(plan), ""]
    if plan.tracking:
        lines[3:3] = [f"Tracking: `{plan.tracking}`", ""]
    changed = [c for c in plan.changes if c.action != "no-op"]
    if not changed:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    lines += ["| | resource | action | why |", "|---|---|---|---|"]
    for change in changed:
        why = "; ".join(describe(r) for r in change.reasons[:2]).replace("|", "\\|")
        if len(change.reasons) > 2:
            why += f" (+{len(change.reasons) - 2} more)"
        lines.append(
            f"| `{SYMBOLS[change.action].strip() or '='}` | `{change.address}` | "
            f"{_headline(change)} | {why} |"
        )
    lines += ["", "<details><summary>Details</summary>", ""]
    for change in changed:
        lines.append(f"- `{change.address}` ({_headline(change)})")
        for reason in change.reasons:
            lines.append(f"  - {describe(reason)}".replace("|", "\\|"))
        if change.estimate:
            lines.append(f"  - work: {change.estimate}")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _totals(found: AppPlans) -> str:
    parts = [f"{found.count(a)} to {a}" for a in ACTIONS if a != "no-op" and found.count(a)]
    changed = sum(p.has_changes for p in found.plans)
    apps = f"{len(found.plans)} app(s), {changed} with changes"
    if found.skipped:
        apps += f", {len(found.skipped)} skipped"
    work = ", ".join(parts) if parts else "nothing to do"
    return f"Apps: {apps}. Plan: {work}, {found.count('no-op')} unchanged."


def render_apps_text(found: AppPlans, color: bool = False) -> str:
    """One section per app, as `plan SPEC` prints it, and the totals."""
    sections = [render_text(plan, color) for plan in found.plans]
    lines = ["\n".join(sections).rstrip("\n"), ""]
    for skip in found.skipped:
        lines.append(f"Skipped {skip.app} ({skip.spec}): {skip.reason}")
    if found.skipped:
        lines.append("")
    lines.append(_totals(found))
    return "\n".join(lines) + "\n"


def render_apps_json(found: AppPlans) -> str:
    return json.dumps(found.to_json(), indent=2, default=str) + "\n"


def render_apps_markdown(found: AppPlans) -> str:
    """One pull-request comment for every app: a table of counts, each app's details folded."""
    env = f" in `{found.env}`" if found.env else ""
    lines = [f"### llmspec plan: {len(found.plans)} app(s){env}", "", _totals(found), ""]
    trackings = {p.tracking for p in found.plans if p.tracking}
    if len(trackings) == 1:
        lines += [f"Tracking: `{trackings.pop()}`", ""]
    lines += [
        "| app | " + " | ".join(a if a != "no-op" else "unchanged" for a in ACTIONS) + " |",
        "|---|" + "---:|" * len(ACTIONS),
    ]
    for plan in found.plans:
        counts = " | ".join(str(plan.count(a)) for a in ACTIONS)
        lines.append(f"| `{plan.app}` | {counts} |")
    for skip in found.skipped:
        lines.append(f"| `{skip.app}` | skipped: {skip.reason} |" + " |" * (len(ACTIONS) - 1))
    for plan in found.plans:
        if not plan.has_changes:
            continue
        text = render_markdown(plan)
        body = text[text.index("| | resource") :]  # its table and details, not its header
        lines += ["", f"<details><summary><code>{plan.app}</code>: {summary(plan)}</summary>", ""]
        lines += [body.rstrip("\n"), "", "</details>"]
    return "\n".join(lines) + "\n"
