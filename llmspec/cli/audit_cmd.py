"""`llmspec audit SPEC -e ENV`: who changed what, when: the state journal (applies, rollbacks,
lock breaks, destroys, with user, host, git commit and plan digest) and the registry's record
of the app's model versions (registered, promoted, rejected with reasons, rolled back)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from llmspec.cli.common import (
    Done,
    spec_command,
)

HELP = "the audit trail of an app in an environment: journal and registry, oldest first"
EXAMPLES = """examples:
  llmspec audit specs/app.yaml -e prod
  llmspec audit specs/app.yaml -e prod --format json"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    resolved = api.resolve(args.spec, args.env, args.overrides)
    events = api.audit(resolved, state=args.state)
    if args.format == "json":
        print(json.dumps([asdict(e) for e in events], indent=2, default=str))
    elif not events:
        print(f"nothing recorded for {resolved.spec.metadata.name} in {resolved.env or 'default'}")
    for event in events if args.format != "json" else ():
        print(f"{event.at[:19]}  {event.event:<18} {event.who:<22} {event.what}")
    return Done()
