"""Options and output shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from llmspec.core.diagnostic_views import (
    SourceLines,
    render_github,
    render_json,
    render_text,
    unique,
)
from llmspec.core.diagnostics import Diagnostic


class Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def add_env_options(parser: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        parser.add_argument(
            "-e",
            "--env",
            action="append",
            metavar="ENV",
            help="environment to resolve (repeatable; default: the base spec and "
            "every declared environment)",
        )
    else:
        parser.add_argument(
            "-e", "--env", metavar="ENV", help="environment to resolve (default: the base spec)"
        )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value with Hydra's syntax: a.b=1, +a.new=x (add), "
        "++a.b=x (add or change), ~a.b (delete); repeatable",
    )


def use_color(stream: object = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)()) or bool(os.environ.get("FORCE_COLOR"))


def print_diagnostics(
    diagnostics: Sequence[Diagnostic],
    fmt: str = "text",
    sources: SourceLines | None = None,
    stream: TextIO | None = None,
) -> None:
    out = stream or sys.stderr
    items = unique(diagnostics)
    if not items:
        return
    if fmt == "json":
        text = render_json(items)
    elif fmt == "github":
        text = render_github(items)
    else:
        text = render_text(items, sources or SourceLines(), use_color(out))
    print(text, file=out)


def spec_command(sub: Any, name: str, help_text: str, examples: str) -> argparse.ArgumentParser:
    """The parser of a command on one spec in one environment: SPEC, -e/--set, --state."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=examples, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    add_env_options(parser)
    add_state_option(parser)
    return parser


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        metavar="URL",
        help="state backend URL, overriding the "
        "spec's `state` (e.g. sqlite:///state.db, postgresql+psycopg://…)",
    )


def resolve_or_report(spec: str, env: str | None, overrides: Sequence[str]) -> Any:
    """The resolved spec, or None after printing its diagnostics."""
    from llmspec.api import resolve
    from llmspec.core.diagnostics import SpecError

    try:
        return resolve(spec, env, overrides)
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return None


def read_saved_plan(path: str) -> dict[str, Any]:
    """A plan saved by `llmspec plan --out`; LS609 when it cannot be read as one."""
    import json

    from llmspec.core.diagnostics import SpecError, error

    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        if not isinstance(saved, dict) or not isinstance(saved["spec"], str):
            raise ValueError("not a saved plan")
        if not isinstance(saved["plan_digest"], str):
            raise ValueError("the plan has no digest")
        return saved
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(
            [
                error(
                    "LS609",
                    f"cannot read the saved plan `{path}`: {exc}",
                    hint="save one with `llmspec plan SPEC -e ENV --out FILE`",
                )
            ]
        ) from None
