"""`llmspec approve PLAN.json`: record one person's approval of a saved plan, bound to its digest,
for an environment whose governance asks for approvals before apply."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llmspec.cli.common import (
    Formatter,
    add_state_option,
    print_diagnostics,
    read_saved_plan,
    resolve_or_report,
    use_color,
)

HELP = "approve a saved plan: apply of that exact plan may then proceed"
EXAMPLES = """examples:
  llmspec plan specs/app.yaml -e prod --out plan.json
  llmspec approve plan.json --comment "eval table looks right"
  llmspec approve specs/app.yaml -e prod --plan plan.json
  llmspec apply plan.json

the approver is $LLMSPEC_USER, else the login name: set LLMSPEC_USER where the login is shared
(a CI runner), and keep write access to the shared state to the people who may approve.

the approval is recorded in the state journal under the plan's digest, which covers what each
resource is built from and the state: a change to any of it after the review makes a new plan,
and the approvals of the old one no longer count. `llmspec audit` lists approvals; the promoted
model version is tagged with who approved it"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "target", metavar="PLAN|SPEC", help="a plan saved by `llmspec plan --out`, or its spec"
    )
    parser.add_argument("-e", "--env", metavar="ENV", help="with SPEC: the plan's environment")
    parser.add_argument("--plan", metavar="FILE", help="with SPEC: the saved plan to approve")
    parser.add_argument("--comment", metavar="TEXT", help="why, or where it was reviewed")
    add_state_option(parser)


def run(args: argparse.Namespace) -> int:
    from llmspec.checks.governance import required_approvals
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.core.git import head_commit
    from llmspec.engine import approvals
    from llmspec.engine.apply import check_saved
    from llmspec.engine.workspace import open_workspace
    from llmspec.plan.views import render_text
    from llmspec.state.model import current_user

    plan_file = args.target if args.target.endswith(".json") else args.plan
    if plan_file is None:
        print_diagnostics(
            [
                error(
                    "LS609",
                    "approve needs the saved plan that was reviewed",
                    hint="save it with `llmspec plan … --out plan.json`, then "
                    "`llmspec approve plan.json`",
                )
            ]
        )
        return 1
    try:
        saved = read_saved_plan(plan_file)
        if plan_file is args.plan:
            _same_spec(args.target, args.env, saved)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    resolved = resolve_or_report(saved["spec"], saved.get("env_option"), saved.get("overrides", []))
    if resolved is None:
        return 1
    try:
        ws = open_workspace(resolved, args.state)
        _, plan = ws.plan(saved.get("targets", []))
        check_saved(saved, plan)  # only the plan as it stands now can be approved
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    if not plan.has_changes:
        print(f"Nothing to approve: {ws.app} in {ws.env} matches the spec.")
        return 0
    sys.stdout.write(render_text(plan, use_color()))
    by = current_user()
    approvals.record(ws.backend, plan, by, args.comment, head_commit(ws.repo_root))
    names = approvals.approvers_of(ws.backend.journal(ws.app, ws.env), plan.digest)
    needed = required_approvals(resolved.spec, ws.repo_root, resolved.env)
    print(
        f"\nApproved by {by}: plan {plan.digest[:19]} of {ws.app} in {ws.env}. "
        + (
            f"It has {len(names)} of the {needed} approval(s) apply needs ({', '.join(names)})."
            if needed
            else f"`{ws.env}` needs no approval; it is recorded all the same."
        )
    )
    if len(names) >= needed:
        print(f"Apply it with `llmspec apply {plan_file}`.")
    return 0


def _same_spec(spec: str, env: str | None, saved: dict[str, Any]) -> None:
    """SPEC -e ENV --plan FILE: the plan must be of that spec and environment."""
    from llmspec.core.diagnostics import SpecError, error

    if Path(spec).resolve() != Path(saved["spec"]).resolve() or env != saved.get("env_option"):
        raise SpecError(
            [
                error(
                    "LS604",
                    f"the saved plan is of `{saved['spec']}` in `{saved.get('env_option')}`, "
                    f"not `{spec}` in `{env}`",
                    hint="approve the plan of the spec and environment you reviewed",
                )
            ]
        )
