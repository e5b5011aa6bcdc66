"""`llmspec schema`: write (or check) the JSON Schema and the spec reference."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    Status,
)

HELP = "write the JSON Schema (and the Markdown spec reference) generated from the models"
EXAMPLES = """examples:
  llmspec schema                                   writes schemas/llmspec.schema.json
  llmspec schema --docs docs                       also writes docs/spec-reference.md,
                                                   docs/diagnostics.md and docs/cli.md
  llmspec schema --check                           exit 1 when a checked-in file is stale

editors: add `# yaml-language-server: $schema=<path>/llmspec.schema.json` to a spec"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "--out", default="schemas/llmspec.schema.json", metavar="FILE", help="the JSON Schema file"
    )
    parser.add_argument("--docs", metavar="DIR", help="also write the Markdown references here")
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 when different"
    )


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    targets = list(api.schema_files(args.out, args.docs).items())
    stale = []
    for path, text in targets:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if args.check:
            if current != text:
                stale.append(path)
            continue
        if current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        print(f"wrote {path}")
    for path in stale:
        print(f"stale: {path} (run `llmspec schema` to regenerate)")
    return Done(Status.FAILED if stale else Status.OK)
