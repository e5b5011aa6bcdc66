"""Options and output shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TextIO

from llmspec.core.diagnostic_views import (
    SourceLines,
    render_github,
    render_json,
    render_text,
    unique,
)
from llmspec.core.diagnostics import Diagnostic, SpecError, error


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


def spec_command(
    sub: Any, name: str, help_text: str, examples: str, folders: bool = False
) -> argparse.ArgumentParser:
    """The parser of a command on one spec in one environment: SPEC, -e/--set, --state
    (``folders``: or on every app below a folder)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=examples, formatter_class=Formatter
    )
    if folders:
        parser.add_argument(
            "spec", metavar="SPEC|DIR", help="spec file, or a folder: every app spec below it"
        )
    else:
        parser.add_argument("spec", metavar="SPEC", help="spec file")
    add_env_options(parser)
    add_state_option(parser)
    return parser


def add_target_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="limit to this resource and what it needs (repeatable)",
    )


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        metavar="URL",
        help="state backend URL, overriding the "
        "spec's `state` (e.g. sqlite:///state.db, postgresql+psycopg://…)",
    )


def add_refresh_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--refresh",
        choices=("true", "false"),
        default="true",
        help="first check what apply recorded against the registry and the tables, and show "
        "what changed outside llmspec (default true; false trusts the recorded state)",
    )


def add_tracking_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="the MLflow tracking server, before MLFLOW_TRACKING_URI and the spec's "
        "`tracking.uri` (default: the repository's local store)",
    )


class Status(IntEnum):
    """How a command ended when it raised nothing; `cli.main` turns it into the exit code."""

    OK = 0
    FAILED = 1  # the operation ran and says no: a gate, an alert, a failed step, a difference
    CHANGES = 2  # plan --detailed-exitcode: there are changes


@dataclass(frozen=True)
class Done:
    """What a command returns: its status and the diagnostics to show (warnings, a failed
    step's errors), which only `cli.main` prints."""

    status: Status = Status.OK
    diagnostics: Sequence[Diagnostic] = ()
    sources: SourceLines | None = None
    fmt: str = "text"
    to_stdout: bool = False  # validate's report is its output
    footer: str | None = None  # printed after the diagnostics, on the same stream


def usage(message: str, hint: str | None = None) -> SpecError:
    """LS001: options of a command that do not go together, or one that is missing. A coded
    error (exit 1), so it never reads as `--detailed-exitcode`'s 2."""
    return SpecError([error("LS001", message, hint=hint)])


def resolve_warned(args: argparse.Namespace) -> Any:
    """The spec resolved from SPEC, -e and --set; its warnings are kept on ``args`` for
    `cli.main` to show, whether the command then succeeds or fails."""
    from llmspec.api import resolve

    resolved = resolve(args.spec, args.env, args.overrides)
    args.warnings = (resolved.diagnostics, SourceLines(resolved.document.sources))
    return resolved
