"""`llmspec destroy SPEC -e ENV`: remove what apply created in an environment."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import (
    Done,
    Status,
    spec_command,
    usage,
)

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


def run(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.cli.progress import TerminalHook
    from llmspec.plans.views import render_text

    resolved = api.resolve(args.spec, args.env, args.overrides)
    plan = api.destroy_plan(resolved, state=args.state)
    sys.stdout.write(render_text(plan))
    if not plan.has_changes:
        return Done()
    if not args.yes:
        if not sys.stdin.isatty():
            raise usage("refusing to destroy without confirmation", "pass --yes")
        answer = input(
            f"Destroy {plan.count('delete')} resource(s) of {plan.app} in "
            f"{plan.env}? Type the environment name to confirm: "
        )
        if answer.strip() != plan.env:
            print("cancelled")
            return Done(Status.FAILED)
    result = api.destroy(
        resolved, state=args.state, lock_timeout=args.lock_timeout, confirmed=plan,
        hook=TerminalHook(),
    )  # fmt: skip
    return Done(Status.OK if result.ok else Status.FAILED, result.diagnostics)
