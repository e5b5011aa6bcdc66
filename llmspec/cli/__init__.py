"""The `llmspec` command: a thin layer that parses arguments, calls the API, prints results.

Each command module has three parts: ``add_parser`` (its arguments), ``run`` (one call of
:mod:`llmspec.api`) and the view that renders the result. Diagnostics are printed and exit
codes decided here and only here: 0 ok, 1 errors (or the operation said no: a failed gate, a
firing alert), 2 changes with `plan --detailed-exitcode` (and argparse's usage errors), 3 a bug.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from llmspec.core.diagnostics import SpecError
from llmspec.version import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

# name -> module under llmspec.cli, imported only when the command runs or help lists it
COMMANDS = {
    "validate": "validate_cmd",
    "show": "show_cmd",
    "explain": "explain_cmd",
    "schema": "schema_cmd",
    "init": "init_cmd",
    "plan": "plan_cmd",
    "apply": "apply_cmd",
    "approve": "approve_cmd",
    "render": "render_cmd",
    "query": "query_cmd",
    "destroy": "destroy_cmd",
    "state": "state_cmd",
    "rollback": "rollback_cmd",
    "rollout": "rollout_cmd",
    "serve": "serve_cmd",
    "predict": "predict_cmd",
    "feedback": "feedback_cmd",
    "monitor": "monitor_cmd",
    "diff": "diff_cmd",
    "audit": "audit_cmd",
    "try": "try_cmd",
}

# Commands that read specs and print, and own no thread, server or child process: the console
# entry point leaves them with os._exit once their output is flushed. Tearing down the
# interpreter (every module and model class freed one by one) is a fifth of a cold `validate`.
SHORT_LIVED = frozenset({"validate", "show", "explain", "schema", "plan", "render", "diff"})


def command(name: str) -> ModuleType:
    """The module of command ``name`` (``KeyError`` for an unknown one)."""
    return importlib.import_module(f"llmspec.cli.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the top level with just that command's subparser: a
    command's arguments never depend on another's, and importing the other nineteen command
    modules is most of what `llmspec validate` would spend before it reads a file."""
    parser = argparse.ArgumentParser(
        prog="llmspec",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Turn one YAML spec per LLM application into everything it needs.",
        epilog="examples:\n  llmspec validate specs/\n"
        "  llmspec show specs/support-bot.yaml -e prod\n"
        "  llmspec explain specs/support-bot.yaml -e prod finetune.compute\n"
        "  llmspec init support-bot\n\nrun `llmspec COMMAND --help` for a command's options",
    )
    parser.add_argument("--version", action="version", version=f"llmspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        command(name).add_parser(sub, name)
    return parser


def _named_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names first, when it is a known one (else the full parser decides)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_named_command(argv))
    args, extra = parser.parse_known_args(argv)
    # argparse cannot take an optional positional after options (`explain SPEC -e prod PATH`):
    # a command names the positional that a single leftover word fills.
    module = command(args.command) if args.command else None
    field = getattr(module, "EXTRA_POSITIONAL", None)
    if field and len(extra) == 1 and not extra[0].startswith("-") and not getattr(args, field):
        setattr(args, field, extra.pop())
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if module is None:
        parser.print_help()
        return EXIT_USAGE
    from llmspec.cli.common import print_diagnostics

    try:
        done = module.run(args)
    except SpecError as exc:  # a user error any command may meet (state unreachable, locked…)
        _warnings(args)
        print_diagnostics(exc.diagnostics)
        return EXIT_ERRORS
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:  # a bug in llmspec, never a user error: those are Diagnostics
        import traceback

        traceback.print_exc()
        print(
            f"\nllmspec {__version__} hit an internal error (exit 3). Please report it with "
            "the traceback above.",
            file=sys.stderr,
        )
        return EXIT_BUG
    _warnings(args)
    stream = sys.stdout if done.to_stdout else sys.stderr
    print_diagnostics(done.diagnostics, done.fmt, done.sources, stream)
    if done.footer is not None:
        print(done.footer, file=stream)
    return int(done.status)


def _warnings(args: argparse.Namespace) -> None:
    """The warnings of the spec a command resolved (`cli.common.resolve_warned`)."""
    from llmspec.cli.common import print_diagnostics

    found = getattr(args, "warnings", None)
    if found is not None:
        print_diagnostics(found[0], sources=found[1])


def run() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    short_lived = _named_command(argv) in SHORT_LIVED
    if short_lived:
        # Nothing these commands allocate is garbage in a cycle worth a collection: the
        # collector would walk the tens of thousands of objects that importing creates.
        gc.disable()
    try:
        code = main(argv)
    except BrokenPipeError:  # the reader left while diagnostics were printed (`… | head`)
        code = EXIT_OK
        # Python flushes stdout again at exit, into the same closed pipe: point it elsewhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if short_lived:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:  # `llmspec plan … | head`: the reader has gone
            pass
        os._exit(code)
    sys.exit(code)
