"""`llmspec state list|show|unlock|unmark|import`: look at and repair recorded state."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_state_option,
    usage,
)
from llmspec.core.diagnostics import SpecError, error

if TYPE_CHECKING:
    from llmspec.engine.locking import Unlocked
    from llmspec.state.model import AppState


HELP = (
    "inspect state (list, show), break a lock left by a killed apply (unlock), clear a "
    "retraining mark (unmark), or adopt a registered version, alias or table (import)"
)
EXAMPLES = """examples:
  llmspec state list                                  every app and environment recorded
  llmspec state show specs/app.yaml -e prod           resources, digests, outputs
  llmspec state show specs/app.yaml -e prod index.help_center
  llmspec state show specs/app.yaml -e prod --journal
  llmspec state unlock specs/app.yaml -e prod         after checking the holder is gone
  llmspec state unmark specs/app.yaml -e prod finetune.app
                                                      a retraining mark set by monitor
  llmspec state import specs/app.yaml -e prod package.app --version 7
                                                      a registered version made by hand
  llmspec state import specs/app.yaml -e prod promote.app@champion
  llmspec state import specs/app.yaml -e prod index.help_center   (its latest version)"""
EXTRA_POSITIONAL = "address"


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "action",
        choices=("list", "show", "unlock", "unmark", "import"),
        help="what to do (see examples)",
    )
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="spec file (show, unlock, unmark)")
    parser.add_argument(
        "address", nargs="?", metavar="ADDRESS", help="one resource (show, unmark, import)"
    )
    parser.add_argument(
        "--version", metavar="N", help="import: the registered version, or the table version"
    )
    parser.add_argument("-e", "--env", metavar="ENV", help="environment (default: the base)")
    parser.add_argument("--journal", action="store_true", help="show the journal (show)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_state_option(parser)


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    if args.spec is None:
        if args.action != "list":
            raise usage(f"`state {args.action}` needs a SPEC", EXAMPLES)
        _listing(api.state_list(args.state))
        return Done()
    ws = api.open_workspace(args.spec, args.env, state=args.state)
    if args.action == "list":
        _listing([found for _, _, found in ws.backend.list()])
    elif args.action == "unlock":
        _unlocked(api.unlock(ws), ws.app, ws.env)
    elif args.action == "unmark":
        if args.address is None:
            raise usage("`state unmark` needs the ADDRESS of the marked resource", EXAMPLES)
        api.unmark(ws, args.address)
        print(f"cleared the mark on {args.address}: the next plan no longer rebuilds it for it")
    elif args.action == "import":
        if args.address is None:
            raise usage("`state import` needs the ADDRESS to record", EXAMPLES)
        adopted = api.state_import(ws, args.address, args.version)
        print(f"imported {args.address} in {ws.env}: {json.dumps(adopted.outputs, sort_keys=True)}")
    elif args.journal:
        _journal([e.to_json() for e in ws.backend.journal(ws.app, ws.env)], args.json)
    else:
        _show(api.state_show(ws, args.address), args.address, args.json)
    return Done()


def _listing(states: list[AppState]) -> None:
    for st in states:
        print(f"{st.app}  {st.env}  serial {st.serial}  {len(st.resources)} resource(s)")
    if not states:
        print("no state recorded")


def _unlocked(unlocked: Unlocked, app: str, env: str) -> None:
    if unlocked.holder is None:
        print(f"{app} in {env} is not locked")
    elif unlocked.still_held:
        # an OS lock (local backend) belongs to its process until that process ends
        raise SpecError(
            [
                error(
                    "LS603",
                    f"the lock is held by a running process: {unlocked.holder.describe()}",
                    hint="stop that process instead",
                )
            ]
        )
    else:
        print(f"released the lock held by {unlocked.holder.describe()}")  # the backend journals


def _journal(entries: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(entries, indent=2))
        return
    for e in entries:
        print(f"{e['at']}  {e['event']:<16} {e['result'] or '':<11} {e['who']}@{e['host']} "
              f"{(e['git_commit'] or '')[:10]}")  # fmt: skip


def _show(state: AppState, address: str | None, as_json: bool) -> None:
    if address is not None:
        print(json.dumps(state.resources[address].to_json(), indent=2, sort_keys=True))
        return
    if as_json:
        print(json.dumps(state.to_json(), indent=2, sort_keys=True))
        return
    print(f"{state.app} in {state.env}: serial {state.serial}")
    for addr, r in state.resources.items():
        built = f" (built in {r.env_built})" if r.env_built and r.env_built != state.env else ""
        print(f"  {addr:<40} {r.status:<9} {r.inputs_digest[7:19]}  {r.updated_at}{built}")
        if r.marked:
            print(f"      marked for rebuilding by {r.marked.get('by')} at {r.marked.get('at')}: "
                  f"{r.marked.get('why')}")  # fmt: skip
