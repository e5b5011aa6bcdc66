"""`llmspec destroy SPEC -e ENV`: remove what apply created in an environment."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import print_diagnostics, resolve_or_report, spec_command

HELP = "remove what apply created in an environment (aliases, deployments, local tables)"
EXAMPLES = """examples:
  llmspec destroy specs/app.yaml -e dev          shows what goes, then asks
  llmspec destroy specs/app.yaml -e dev --yes    for scripts"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait this long for an apply of the same app+env",
    )


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import SpecError
    from llmspec.engine.destroy import destroy, destroy_plan
    from llmspec.engine.workspace import open_workspace
    from llmspec.plan.views import render_text

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    workspace = open_workspace(resolved, args.state)
    plan = destroy_plan(workspace)
    sys.stdout.write(render_text(plan))
    if not plan.has_changes:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to destroy without confirmation: pass --yes", file=sys.stderr)
            return 1
        answer = input(
            f"Destroy {plan.count('delete')} resource(s) of {workspace.app} in "
            f"{workspace.env}? Type the environment name to confirm: "
        )
        if answer.strip() != workspace.env:
            print("cancelled")
            return 1
    try:
        result = destroy(workspace, lock_timeout=args.lock_timeout, confirmed=plan)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    print_diagnostics(result.diagnostics)
    return 0 if result.ok else 1
