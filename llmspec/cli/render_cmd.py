"""`llmspec render SPEC -e ENV`: write every resource's artifacts without applying."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llmspec.cli.common import Formatter, add_env_options, print_diagnostics, resolve_or_report

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


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import SpecError
    from llmspec.engine.render import write_artifacts
    from llmspec.engine.workspace import open_workspace

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    try:
        workspace = open_workspace(resolved)
        graph = workspace.graph()
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    folder = Path(args.out) if args.out else workspace.build_dir
    for resource in graph.resources.values():
        files = workspace.steps[resource.kind].render(resource, resolved.spec)
        for relative, digest in write_artifacts(folder, files).items():
            print(f"{digest[7:19]}  {folder / relative}")
    return 0
