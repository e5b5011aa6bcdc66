"""`llmspec state list|show|unlock|unmark`: look at and repair recorded state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from llmspec.cli.common import Formatter, add_state_option, resolve_or_report

HELP = (
    "inspect state (list, show), break a lock left by a killed apply (unlock), or clear a "
    "retraining mark (unmark)"
)
EXAMPLES = """examples:
  llmspec state list                                  every app and environment recorded
  llmspec state show specs/app.yaml -e prod           resources, digests, outputs
  llmspec state show specs/app.yaml -e prod index.help_center
  llmspec state show specs/app.yaml -e prod --journal
  llmspec state unlock specs/app.yaml -e prod         after checking the holder is gone
  llmspec state unmark specs/app.yaml -e prod finetune.app
                                                      a retraining mark set by monitor"""
EXTRA_POSITIONAL = "address"


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "action", choices=("list", "show", "unlock", "unmark"), help="what to do (see examples)"
    )
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="spec file (show, unlock, unmark)")
    parser.add_argument("address", nargs="?", metavar="ADDRESS", help="one resource (show, unmark)")
    parser.add_argument("-e", "--env", metavar="ENV", help="environment (default: the base)")
    parser.add_argument("--journal", action="store_true", help="show the journal (show)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_state_option(parser)


def run(args: argparse.Namespace) -> int:
    from llmspec.checks.context import repository_root
    from llmspec.engine.step import DEFAULT_ENV
    from llmspec.engine.workspace import open_backend, open_workspace

    if args.spec is None:
        if args.action != "list":
            print(f"error: `state {args.action}` needs a SPEC")
            return 2
        backend = open_backend(repository_root(Path.cwd()), "local", ".llmspec/state", args.state)
        rows = [(app, env, st) for app, env, st in backend.list()]
        for app, env, st in rows:
            print(f"{app}  {env}  serial {st.serial}  {len(st.resources)} resource(s)")
        if not rows:
            print("no state recorded")
        return 0
    resolved = resolve_or_report(args.spec, args.env, [])
    if resolved is None:
        return 1
    ws = open_workspace(resolved, args.state)
    env = args.env or DEFAULT_ENV
    if args.action == "list":
        for app, e, st in ws.backend.list():
            print(f"{app}  {e}  serial {st.serial}  {len(st.resources)} resource(s)")
        return 0
    if args.action == "unlock":
        holder = ws.backend.unlock(ws.app, env)
        if holder is None:
            print(f"{ws.app} in {env} is not locked")
        elif ws.backend.lock_holder(ws.app, env) is not None:
            # an OS lock (local backend) belongs to its process until that process ends
            print(f"the lock is held by a running process: {holder.describe()}; stop it instead")
            return 1
        else:
            print(f"released the lock held by {holder.describe()}")  # the backend journals it
        return 0
    if args.action == "unmark":
        return _unmark(ws, env, args.address)
    if args.journal:
        entries = [e.to_json() for e in ws.backend.journal(ws.app, env)]
        print(
            json.dumps(entries, indent=2)
            if args.json
            else "\n".join(
                f"{e['at']}  {e['event']:<16} {e['result'] or '':<11} {e['who']}@{e['host']} "
                f"{(e['git_commit'] or '')[:10]}"
                for e in entries
            )
        )
        return 0
    state = ws.backend.read(ws.app, env)
    resources = state.resources
    if args.address:
        if args.address not in resources:
            print(f"error: `{args.address}` is not in the state of {ws.app} in {env}")
            return 1
        print(json.dumps(resources[args.address].to_json(), indent=2, sort_keys=True))
        return 0
    if args.json:
        print(json.dumps(state.to_json(), indent=2, sort_keys=True))
        return 0
    print(f"{ws.app} in {env}: serial {state.serial}")
    for address, r in resources.items():
        built = f" (built in {r.env_built})" if r.env_built and r.env_built != env else ""
        print(f"  {address:<40} {r.status:<9} {r.inputs_digest[7:19]}  {r.updated_at}{built}")
        if r.marked:
            print(f"      marked for rebuilding by {r.marked.get('by')} at {r.marked.get('at')}: "
                  f"{r.marked.get('why')}")  # fmt: skip
    return 0


def _unmark(ws: Any, env: str, address: str | None) -> int:
    from llmspec.cli.common import print_diagnostics
    from llmspec.core.diagnostics import did_you_mean, error
    from llmspec.engine.apply import lock_diagnostic
    from llmspec.engine.marks import unmark
    from llmspec.state.backend import LockHeld

    if address is None:
        print("error: `state unmark` needs the ADDRESS of the marked resource")
        return 2
    resources = ws.backend.read(ws.app, env).resources
    if address not in resources:
        message = f"`{address}` is not in the state of {ws.app} in {env}"
        print_diagnostics([error("LS471", message, hint=did_you_mean(address, list(resources)))])
        return 1
    try:
        cleared = unmark(ws, address)
    except LockHeld as exc:
        raise lock_diagnostic(exc, ws.app, env) from None
    if not cleared:
        hint = f"`llmspec state show` lists the marks of {ws.app}"
        print_diagnostics([error("LS623", f"`{address}` is not marked for rebuilding", hint=hint)])
        return 1
    print(f"cleared the mark on {address}: the next plan no longer rebuilds it for it")
    return 0
