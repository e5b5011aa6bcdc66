"""`llmspec diff SPEC`: the semantic difference between two revisions or two environments of a
spec, on the resolved values (overlays merged, defaults filled in, secrets as references)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import (
    Done,
    Formatter,
    Status,
)

if TYPE_CHECKING:
    from llmspec.operate.diff import SpecDiff


HELP = "what differs between two git revisions, or two environments, of a spec (resolved)"
EXAMPLES = """examples:
  llmspec diff specs/app.yaml -e prod --from-ref main          main's prod vs the working tree's
  llmspec diff specs/app.yaml --env-a staging --env-b prod      staging vs prod
  llmspec diff specs/app.yaml --env-a staging --env-b prod --format markdown > diff.md

Values are compared after resolution: overlays merged, variables interpolated, defaults filled
in; a change that resolves to the same value is no change. --exit-code exits 1 on a difference."""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    parser.add_argument("-e", "--env", help="environment, with --from-ref (default: the base)")
    parser.add_argument("--from-ref", metavar="REF", help="git revision to compare with")
    parser.add_argument("--env-a", metavar="ENV", help="first environment")
    parser.add_argument("--env-b", metavar="ENV", help="second environment")
    parser.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output"
    )
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when they differ")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    found = api.diff(
        args.spec, args.env, from_ref=args.from_ref, env_a=args.env_a, env_b=args.env_b
    )
    print(_render(found, args.format))
    return Done(Status.FAILED if found.changes and args.exit_code else Status.OK)


def _render(found: SpecDiff, fmt: str) -> str:
    changes, labels = found.changes, (found.a, found.b)

    def show(value: Any) -> str:
        return "—" if value is None else json.dumps(value, ensure_ascii=False, default=str)

    if fmt == "json":
        rows = [{"path": p, labels[0]: a, labels[1]: b} for p, a, b in changes]
        return json.dumps({"a": labels[0], "b": labels[1], "changes": rows}, indent=2)
    if not changes:
        return f"No differences between {labels[0]} and {labels[1]}."
    if fmt == "markdown":
        lines = [f"| path | {labels[0]} | {labels[1]} |", "|---|---|---|"]
        lines += [f"| `{p}` | `{show(a)}` | `{show(b)}` |" for p, a, b in changes]
        return "\n".join(lines)
    width = max(len(p) for p, _, _ in changes)
    lines = [f"{len(changes)} difference(s): {labels[0]} → {labels[1]}"]
    lines += [f"  {p.ljust(width)}  {show(a)} → {show(b)}" for p, a, b in changes]
    return "\n".join(lines)
