"""`llmspec show SPEC -e ENV`: the resolved spec, defaults filled in, secrets as references."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmspec.cli.common import Formatter, add_env_options, print_diagnostics
from llmspec.core.diagnostic_views import SourceLines
from llmspec.core.diagnostics import SpecError

HELP = "print the resolved spec for an environment (overlays merged, defaults filled in)"
EXAMPLES = """examples:
  llmspec show specs/app.yaml -e prod
  llmspec show specs/app.yaml -e dev --format json --set finetune.training.epochs=2

secrets are printed as their references (${secret:NAME}), never as values"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    add_env_options(parser)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output")


def run(args: argparse.Namespace) -> int:
    from llmspec.api import resolve
    from llmspec.explain import resolved_data

    try:
        resolved = resolve(args.spec, args.env, args.overrides)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics, sources=SourceLines())
        return 1
    print_diagnostics(resolved.diagnostics, sources=SourceLines(resolved.document.sources))
    data = resolved_data(resolved)
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(to_yaml(data))
    return 0


def to_yaml(data: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)
