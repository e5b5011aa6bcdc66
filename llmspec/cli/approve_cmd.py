"""`llmspec approve PLAN.json`: record one person's approval of a saved plan, bound to its digest,
for an environment whose governance asks for approvals before apply."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_state_option,
    use_color,
)
from llmspec.core.diagnostics import SpecError, error

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


def run(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.plans.saved import read_saved_plan
    from llmspec.plans.views import render_text

    plan_file = args.target if args.target.endswith(".json") else args.plan
    if plan_file is None:
        raise SpecError(
            [
                error(
                    "LS609",
                    "approve needs the saved plan that was reviewed",
                    hint="save it with `llmspec plan … --out plan.json`, then "
                    "`llmspec approve plan.json`",
                )
            ]
        )
    if plan_file is args.plan:
        _same_spec(args.target, args.env, read_saved_plan(plan_file).data)
    approval = api.approve(plan_file, args.comment, state=args.state)
    plan = approval.plan
    if approval.by is None:
        print(f"Nothing to approve: {plan.app} in {plan.env} matches the spec.")
        return Done()
    sys.stdout.write(render_text(plan, use_color()))
    names, needed = approval.approvers, approval.needed
    print(
        f"\nApproved by {approval.by}: plan {plan.digest[:19]} of {plan.app} in {plan.env}. "
        + (
            f"It has {len(names)} of the {needed} approval(s) apply needs ({', '.join(names)})."
            if needed
            else f"`{plan.env}` needs no approval; it is recorded all the same."
        )
    )
    if approval.enough:
        print(f"Apply it with `llmspec apply {plan_file}`.")
    return Done()


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
