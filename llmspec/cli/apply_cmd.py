"""`llmspec apply SPEC -e ENV` (or `llmspec apply plan.json`): make the environment match."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import (
    Done,
    Formatter,
    Status,
    add_env_options,
    add_refresh_option,
    add_state_option,
    add_target_option,
    add_tracking_option,
    use_color,
)
from llmspec.frontend import display_path

if TYPE_CHECKING:
    from llmspec.engine.workspace import Workspace


HELP = "build, update or reuse what the plan says, in dependency order, resumably"
EXAMPLES = """examples:
  llmspec apply specs/app.yaml -e dev
  llmspec apply plan.json                        (a saved plan; refused if it is stale)
  llmspec apply specs/app.yaml -e dev --dry-run  (= plan)
  llmspec apply specs/ -e staging                every app below specs/, each under its lock

where governance asks for approvals (prod, typically), apply executes only a plan that
enough people approved with `llmspec approve plan.json`:
  llmspec plan specs/app.yaml -e prod --out plan.json
  llmspec approve plan.json --comment "reviewed in #123"
  llmspec apply plan.json

a re-run after a crash or a failure finishes the remaining work without redoing finished steps"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "spec",
        metavar="SPEC|PLAN|DIR",
        help="spec file, a plan saved by `llmspec plan --out`, or a folder: every app below it",
    )
    add_env_options(parser)
    add_state_option(parser)
    add_tracking_option(parser)
    add_refresh_option(parser)
    add_target_option(parser)
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait this long for another apply of the same app+env",
    )
    parser.add_argument("--dry-run", action="store_true", help="only plan")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.plans.views import render_text, summary

    if os.path.isdir(args.spec):
        return _apps(args)
    if args.dry_run:
        spec, env, overrides, targets = args.spec, args.env, args.overrides, args.target
        if spec.endswith(".json"):
            from llmspec.plans.saved import read_saved_plan

            saved = read_saved_plan(spec)
            spec, env, overrides = saved.spec, saved.env_option, saved.overrides
            targets = saved.targets or targets
        plan = api.plan(
            spec,
            env,
            overrides,
            state=args.state,
            targets=targets,
            tracking_uri=args.tracking_uri,
            refresh=args.refresh == "true",
        )
        sys.stdout.write(render_text(plan, use_color()))
        return Done()
    result = api.apply(args.spec, args.env, args.overrides, **_options(args))
    if not result.plan.has_changes:
        print("No changes: the environment matches the spec.")
        return Done()
    print(
        f"Apply {'complete' if result.ok else 'failed'}: {result.applied} of "
        f"{len(result.outcomes)} changes applied. ({summary(result.plan)})"
    )
    if result.ok and result.workspace is not None:
        for line in where_to_look(result.workspace, args.spec):
            print(line)
    return Done(Status.OK if result.ok else Status.FAILED, result.diagnostics)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """What `apply SPEC` and `apply DIR` pass the API alike."""
    from llmspec.cli.progress import TerminalHook

    return {
        "state": args.state,
        "targets": args.target,
        "lock_timeout": args.lock_timeout,
        "hook": TerminalHook(),
        "tracking_uri": args.tracking_uri,
        "refresh": args.refresh == "true",
    }


def _apps(args: argparse.Namespace) -> Done:
    """`apply DIR`: every app below the folder, one after another."""
    from llmspec import api
    from llmspec.plans.views import render_apps_text, summary

    if args.dry_run:
        from llmspec.cli.plan_cmd import plan_of_apps

        sys.stdout.write(render_apps_text(plan_of_apps(args), use_color()))
        return Done()
    results, skipped = api.apply_apps(args.spec, args.env, args.overrides, **_options(args))
    print()
    for result in results:
        state = "ok" if result.ok else "FAILED"
        print(
            f"  {state:<6} {result.plan.app}: {result.applied} of {len(result.outcomes)} "
            f"changes applied ({summary(result.plan)})"
        )
    for skip in skipped:
        print(f"  skip   {skip.app} ({skip.spec}): {skip.reason}")
    failed = [r for r in results if not r.ok]
    print(
        f"Apply {'failed' if failed else 'complete'}: {len(results)} app(s), {len(failed)} failed."
    )
    diagnostics = [d for r in results for d in r.diagnostics]
    return Done(Status.FAILED if failed else Status.OK, diagnostics)


def where_to_look(ws: Workspace, spec_arg: str) -> list[str]:
    """What apply made and how to look at it: the promoted model, serving it, MLflow's UI, the
    rendered files."""
    from llmspec import api
    from llmspec.core.tracking import is_remote

    found = api.locations(ws)
    lines = ["", "Where to look:"]
    if found.model_uri is not None:
        spec = display_path(ws.resolved.path) if spec_arg.endswith(".json") else spec_arg
        url = found.serve_url
        lines += [
            f"  model    {found.model_uri} (version {found.version})",
            f"  serve    llmspec serve {spec} -e {ws.env}   "
            f"then POST {url}/invocations or {url}/v1/chat/completions",
        ]
    if found.tracking_uri is not None and is_remote(found.tracking_uri):
        lines.append(f"  runs     {found.tracking_uri}  (the team's MLflow server)")
    elif found.tracking_uri is not None:
        lines.append(f"  runs     mlflow ui --backend-store-uri {found.tracking_uri}")
    if found.build_dir is not None:
        lines.append(f"  files    {display_path(found.build_dir)}/")
    return lines if len(lines) > 2 else []
