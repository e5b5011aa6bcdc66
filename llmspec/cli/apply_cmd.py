"""`llmspec apply SPEC -e ENV` (or `llmspec apply plan.json`): make the environment match."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import (
    Formatter,
    add_env_options,
    add_state_option,
    print_diagnostics,
    read_saved_plan,
    resolve_or_report,
    use_color,
)
from llmspec.frontend import display_path

HELP = "build, update or reuse what the plan says, in dependency order, resumably"
EXAMPLES = """examples:
  llmspec apply specs/app.yaml -e dev
  llmspec apply plan.json                        (a saved plan; refused if it is stale)
  llmspec apply specs/app.yaml -e dev --dry-run  (= plan)

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
        "spec", metavar="SPEC|PLAN", help="spec file, or a plan saved by `llmspec plan --out`"
    )
    add_env_options(parser)
    add_state_option(parser)
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="limit to this resource and what it needs (repeatable)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait this long for another apply of the same app+env",
    )
    parser.add_argument("--dry-run", action="store_true", help="only plan")


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import SpecError
    from llmspec.engine.apply import apply
    from llmspec.engine.workspace import open_workspace
    from llmspec.plan.views import render_text, summary

    saved = None
    spec, env, overrides = args.spec, args.env, list(args.overrides)
    if spec.endswith(".json"):
        try:
            saved = read_saved_plan(spec)
        except SpecError as exc:
            print_diagnostics(exc.diagnostics)
            return 1
        spec, env = saved["spec"], saved.get("env_option")
        overrides = list(saved.get("overrides", []))
        args.target = list(saved.get("targets", [])) or args.target
    resolved = resolve_or_report(spec, env, overrides)
    if resolved is None:
        return 1
    try:
        workspace = open_workspace(resolved, args.state)
        if args.dry_run:
            _, plan = workspace.plan(args.target)
            sys.stdout.write(render_text(plan, use_color()))
            return 0
        print(f"Applying {workspace.app} in {workspace.env}")
        result = apply(
            workspace,
            saved_plan=saved,
            lock_timeout=args.lock_timeout,
            targets=args.target,
        )
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    if not result.plan.has_changes:
        print("No changes: the environment matches the spec.")
        return 0
    print_diagnostics(result.diagnostics)
    done = sum(o.status in ("done", "reused", "deleted", "kept") for o in result.outcomes)
    print(
        f"Apply {'complete' if result.ok else 'failed'}: {done} of {len(result.outcomes)} "
        f"changes applied. ({summary(result.plan)})"
    )
    if result.ok:
        for line in where_to_look(workspace, args.spec):
            print(line)
    return 0 if result.ok else 1


def where_to_look(ws: Any, spec_arg: str) -> list[str]:
    """What apply made and how to look at it: the promoted model, serving it, MLflow's UI, the
    rendered files."""
    resources = ws.backend.read(ws.app, ws.env).resources
    lines = ["", "Where to look:"]
    registry = ws.resolved.spec.serving.registry
    promoted = resources.get(f"promote.{ws.app}@{registry.alias}") if registry else None
    tracking = next(
        (str(r.outputs["tracking_uri"]) for r in resources.values() if "tracking_uri" in r.outputs),
        None,
    )
    name = promoted.outputs.get("registered_name") if promoted is not None else None
    if registry is not None and name is not None:
        version = promoted.outputs.get("version")  # type: ignore[union-attr]
        target = next((t for t in ws.resolved.spec.serving.targets if t.kind == "mlflow"), None)
        url = f"http://{target.host}:{target.port}" if target else "http://127.0.0.1:5001"
        lines += [
            f"  model    models:/{name}@{registry.alias} (version {version})",
            f"  serve    llmspec serve {spec_arg} -e {ws.env}   "
            f"then POST {url}/invocations or {url}/v1/chat/completions",
        ]
    if tracking is not None:
        lines.append(f"  runs     mlflow ui --backend-store-uri {tracking}")
    if ws.build_dir.is_dir():
        lines.append(f"  files    {display_path(ws.build_dir)}/")
    return lines if len(lines) > 2 else []
