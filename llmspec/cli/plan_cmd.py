"""`llmspec plan SPEC -e ENV`: what apply would do in an environment, and why."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from llmspec.cli.common import (
    Done,
    Status,
    add_refresh_option,
    add_target_option,
    add_tracking_option,
    resolve_warned,
    spec_command,
    usage,
    use_color,
)

HELP = "show what apply would create, update, replace, reuse or delete, and why"
EXAMPLES = """examples:
  llmspec plan specs/app.yaml -e staging
  llmspec plan specs/app.yaml -e prod --format markdown > plan.md     (a PR comment)
  llmspec plan specs/app.yaml -e prod --out plan.json                 (apply it later)
  llmspec plan specs/app.yaml -e dev --target index.help_center
  llmspec plan specs/app.yaml --from staging --to prod                (what promotion reuses)
  llmspec plan specs/ -e prod --format markdown          (every app: one PR comment)
  llmspec plan specs/ -e prod --target support-bot/index.help_center

exit status: 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 errors"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES, folders=True)
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output: text, JSON (docs/plan-and-apply.md), or Markdown for a PR comment",
    )
    parser.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    parser.add_argument("--out", metavar="FILE", help="save the plan for `llmspec apply FILE`")
    add_target_option(parser)
    add_tracking_option(parser)
    add_refresh_option(parser)
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when there are none",
    )
    parser.add_argument(
        "--from",
        dest="from_env",
        metavar="ENV",
        help="with --to: compare two environments and show what promotion "
        "from one to the other would reuse or rebuild",
    )
    parser.add_argument("--to", dest="to_env", metavar="ENV", help="with --from: the target")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.plans.views import render_json, render_markdown, render_text

    if os.path.isdir(args.spec):
        return _apps(args)
    if args.from_env or args.to_env:
        return _promotion(args)
    resolved = resolve_warned(args)
    plan = api.plan(
        resolved,
        state=args.state,
        targets=args.target,
        out=args.out,
        tracking_uri=args.tracking_uri,
        refresh=args.refresh == "true",
    )
    if args.format == "json":
        sys.stdout.write(render_json(plan))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        sys.stdout.write(render_text(plan, use_color()))
        if args.out:
            print(f"Saved to {args.out}: apply it with `llmspec apply {args.out}`.")
    changed = args.detailed_exitcode and plan.has_changes
    return Done(Status.CHANGES if changed else Status.OK)


def _apps(args: argparse.Namespace) -> Done:
    """`plan DIR`: every app below the folder, one report."""
    from llmspec.plans.views import render_apps_json, render_apps_markdown, render_apps_text

    if args.out or args.from_env or args.to_env:
        raise usage(
            "--out, --from and --to take one spec, not a folder",
            "llmspec plan specs/app.yaml -e prod --out plan.json",
        )
    found = plan_of_apps(args)
    if args.format == "json":
        sys.stdout.write(render_apps_json(found))
    elif args.format == "markdown":
        sys.stdout.write(render_apps_markdown(found))
    else:
        sys.stdout.write(render_apps_text(found, use_color()))
    changed = args.detailed_exitcode and found.has_changes
    return Done(Status.CHANGES if changed else Status.OK)


def plan_of_apps(args: argparse.Namespace) -> Any:
    """`api.plan_apps` with the folder, environment and options of `plan` or `apply`."""
    from llmspec import api

    return api.plan_apps(
        args.spec,
        args.env,
        args.overrides,
        state=args.state,
        targets=args.target,
        tracking_uri=args.tracking_uri,
        refresh=args.refresh == "true",
    )


def _promotion(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.plans.views import render_text

    if not (args.from_env and args.to_env):
        raise usage("--from and --to go together", "llmspec plan SPEC --from staging --to prod")
    found = api.plan_promotion(
        args.spec, args.from_env, args.to_env, args.overrides, state=args.state,
        targets=args.target,
    )  # fmt: skip
    print(f"Spec differences, {args.from_env} → {args.to_env}:")
    for path, old, new in found.differences.changes:
        print(f"  ~ {path}: {json.dumps(old)} → {json.dumps(new)}")
    if not found.differences.changes:
        print("  (none)")
    print()
    sys.stdout.write(render_text(found.plan, use_color()))
    return Done(Status.CHANGES if args.detailed_exitcode and found.plan.has_changes else Status.OK)
