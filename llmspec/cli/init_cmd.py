"""`llmspec init NAME`: scaffold a spec and its data folders."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    usage,
)

HELP = "scaffold a new app spec with sample data that validates at once"
EXAMPLES = """examples:
  llmspec init support-bot                 writes specs/support-bot.yaml and specs/data/support-bot/
  llmspec init support-bot --dir apps      writes under apps/
  llmspec init --ci github                 writes .github/workflows/llmspec.yml"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "name", metavar="NAME", nargs="?", help="app name: lowercase letters, digits, `-`"
    )
    parser.add_argument("--dir", default="specs", help="folder for the spec (default: specs)")
    parser.add_argument("--owner", default="my-team", help="metadata.owner")
    parser.add_argument(
        "--ci",
        choices=("github",),
        help="also write a CI workflow: validate and plan on pull requests, apply on merge/tag",
    )


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    if args.name is None and args.ci is None:
        raise usage("`llmspec init` needs an app NAME, --ci, or both", "llmspec init support-bot")
    for path in api.init(args.name, args.dir, args.owner, args.ci):
        print(f"wrote {path}")
    print(f"next: llmspec validate {args.dir}/")
    return Done()
