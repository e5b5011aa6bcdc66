"""`llmspec rollback SPEC -e ENV`: the environment's alias back to its previous version."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

HELP = "move the environment's registry alias back to the version it pointed at before"
EXAMPLES = """examples:
  llmspec rollback specs/app.yaml -e prod"""


def add_parser(sub: Any, name: str) -> None:
    spec_command(sub, name, HELP, EXAMPLES)


def run(args: argparse.Namespace) -> int:
    from llmspec.engine.workspace import open_workspace
    from llmspec.kinds.promote.rollback import rollback

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    done = rollback(open_workspace(resolved, args.state))
    print(f"{done['name']}@{done['alias']}: version {done['from']} → {done['to']}")
    return 0
