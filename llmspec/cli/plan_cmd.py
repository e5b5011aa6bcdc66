"""`llmspec plan SPEC -e ENV`: what apply would do in an environment, and why."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmspec.cli.common import print_diagnostics, resolve_or_report, spec_command, use_color

HELP = "show what apply would create, update, replace, reuse or delete, and why"
EXAMPLES = """examples:
  llmspec plan specs/app.yaml -e staging
  llmspec plan specs/app.yaml -e prod --format markdown > plan.md     (a PR comment)
  llmspec plan specs/app.yaml -e prod --out plan.json                 (apply it later)
  llmspec plan specs/app.yaml -e dev --target index.help_center
  llmspec plan specs/app.yaml --from staging --to prod                (what promotion reuses)

exit status: 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 errors"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
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
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="limit to this resource and what it needs (repeatable)",
    )
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


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import SpecError
    from llmspec.engine.workspace import open_workspace
    from llmspec.plan.views import render_json, render_markdown, render_text

    if args.from_env or args.to_env:
        return _promotion(args)
    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    print_diagnostics(resolved.diagnostics)
    try:
        _, plan = open_workspace(resolved, args.state).plan(args.target)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    if args.out:
        saved = {
            **plan.to_json(),
            "spec": str(args.spec),
            "overrides": list(args.overrides),
            "env_option": args.env,
        }
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(saved, handle, indent=2)
            handle.write("\n")
    if args.format == "json":
        sys.stdout.write(render_json(plan))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        sys.stdout.write(render_text(plan, use_color()))
        if args.out:
            print(f"Saved to {args.out}: apply it with `llmspec apply {args.out}`.")
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0


def _promotion(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import SpecError
    from llmspec.engine.workspace import open_workspace
    from llmspec.explain import resolved_data
    from llmspec.plan.planner import diff_values
    from llmspec.plan.views import render_text

    if not (args.from_env and args.to_env):
        print("error: --from and --to go together", file=sys.stderr)
        return 2
    source = resolve_or_report(args.spec, args.from_env, args.overrides)
    target = resolve_or_report(args.spec, args.to_env, args.overrides)
    if source is None or target is None:
        return 1
    print(f"Spec differences, {args.from_env} → {args.to_env}:")
    differences = diff_values(resolved_data(source), resolved_data(target))
    for path, old, new in differences:
        print(f"  ~ {path}: {json.dumps(old)} → {json.dumps(new)}")
    if not differences:
        print("  (none)")
    try:
        _, plan = open_workspace(target, args.state).plan(args.target)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    print()
    sys.stdout.write(render_text(plan, use_color()))
    return 2 if args.detailed_exitcode and plan.has_changes else 0
