"""`llmspec rollback SPEC -e ENV`: the environment's alias back to its previous version."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import (
    Done,
    spec_command,
)

HELP = "move the environment's registry alias back to the version it pointed at before"
EXAMPLES = """examples:
  llmspec rollback specs/app.yaml -e prod"""


def add_parser(sub: Any, name: str) -> None:
    spec_command(sub, name, HELP, EXAMPLES)


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    moved = api.rollback(args.spec, args.env, args.overrides, state=args.state)
    print(f"{moved.name}@{moved.alias}: version {moved.from_version} → {moved.to_version}")
    return Done()
