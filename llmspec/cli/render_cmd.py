"""`llmspec render SPEC -e ENV`: write every resource's artifacts without applying."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
)

HELP = "render the artifacts (Accelerate config, jobs, manifests…) into build/<app>/<env>/"
EXAMPLES = """examples:
  llmspec render specs/app.yaml -e prod
  llmspec render specs/app.yaml -e prod --out /tmp/manifests

rendering is deterministic: the same spec gives byte-identical files"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    add_env_options(parser)
    parser.add_argument("--out", metavar="DIR", help="folder (default: build/<app>/<env>)")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    for path, digest in api.render(args.spec, args.env, args.overrides, out=args.out).items():
        print(f"{digest[7:19]}  {path}")
    return Done()
