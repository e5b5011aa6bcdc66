"""`llmspec explain SPEC -e ENV PATH`: a resolved value and where each part of it came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
)

HELP = "show a resolved value and the file, line and overlay that set each part"
EXAMPLES = """examples:
  llmspec explain specs/app.yaml -e prod finetune.compute
  llmspec explain specs/app.yaml -e dev model
  llmspec explain specs/app.yaml serving.targets[0]"""
EXTRA_POSITIONAL = "path"


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    parser.add_argument(
        "path",
        nargs="?",
        default="",
        metavar="PATH",
        help="dotted path, e.g. finetune.compute (default: everything)",
    )
    add_env_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api
    from llmspec.source.document import format_path

    entries = api.explain(args.spec, args.path, args.env, args.overrides)
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "path": format_path(e.path),
                        "value": e.value,
                        "source": None
                        if e.span is None
                        else {
                            "file": e.span.file,
                            "line": e.span.line,
                            "column": e.span.col,
                            "layer": e.span.layer,
                        },
                        "written": e.written,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return Done()
    where = args.env or "base"
    print(f"{args.path or '<spec>'}  (environment: {where})")
    rows = []
    for e in entries:
        value = json.dumps(e.value, ensure_ascii=False)
        if len(value) > 60:
            value = value[:57] + "..."
        if e.span is None:
            origin = "default"
        else:
            origin = f"{e.span}  [{e.span.layer}]"
            if e.written:
                origin += f"  from {e.written}"
        rows.append((format_path(e.path), value, origin))
    width_path = max((len(r[0]) for r in rows), default=0)
    width_value = max((len(r[1]) for r in rows), default=0)
    for path, value, origin in rows:
        print(f"  {path:<{width_path}}  {value:<{width_value}}  {origin}")
    return Done()
