"""`llmspec validate PATH...`: schema and semantic checks for every spec and environment."""

from __future__ import annotations

import argparse
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    Status,
    add_env_options,
)
from llmspec.core.diagnostic_views import FORMATS

HELP = "check specs: schema, environments, interpolation and cross-section rules"
EXAMPLES = """examples:
  llmspec validate specs/                     every spec, base + every environment
  llmspec validate specs/app.yaml -e prod     one environment
  llmspec validate specs/ --format github     annotations for a GitHub workflow
  llmspec validate specs/app.yaml --set model.generation.temperature=0.7

exit status: 0 no errors (warnings allowed unless --strict), 1 errors found, 2 usage"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    add_env_options(parser, many=True)
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def run(args: argparse.Namespace) -> Done:
    from llmspec.api import validate

    report = validate(args.paths, envs=args.env, overrides=args.overrides)
    failed = report.errors > 0 or (args.strict and report.warnings > 0)
    status = Status.FAILED if failed else Status.OK
    if args.format == "json":
        from llmspec.core.diagnostic_views import render_json

        print(render_json(report.diagnostics, {"specs": report.summary()}))
        return Done(status)
    footer = None
    if args.format == "text":
        lines = []
        for path, envs in report.summary().items():
            ok = "ok" if all(v == "ok" for v in envs.values()) else "failed"
            listed = ", ".join(f"{e}" + ("" if v == "ok" else " ✗") for e, v in envs.items())
            lines.append(f"{ok:>6}  {path}  ({listed})")
        lines.append(
            f"{len(report.specs)} spec(s), {report.checked} spec-environment(s): "
            f"{report.errors} error(s), {report.warnings} warning(s)"
        )
        footer = "\n".join(lines)
    return Done(status, report.diagnostics, report.sources, args.format, True, footer)
