"""`llmspec show SPEC -e ENV`: the resolved spec, defaults filled in, secrets as references."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
    resolve_warned,
)

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


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    resolved = resolve_warned(args)
    data = api.show(resolved)
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(to_yaml(data))
    return Done()


def to_yaml(data: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)
