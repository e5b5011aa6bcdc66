"""The `llmspec` command: a thin layer that parses arguments, calls the API, prints results.

Each command module has three parts: ``add_parser`` (its arguments), ``run`` (one call of
:mod:`llmspec.api`) and the view that renders the result. Diagnostics are printed and exit
codes decided here and only here: 0 ok, 1 errors (or the operation said no: a failed gate, a
firing alert), 2 changes with `plan --detailed-exitcode` (and argparse's usage errors), 3 a bug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmspec.cli import (
    apply_cmd,
    approve_cmd,
    audit_cmd,
    destroy_cmd,
    diff_cmd,
    explain_cmd,
    feedback_cmd,
    init_cmd,
    monitor_cmd,
    plan_cmd,
    predict_cmd,
    query_cmd,
    render_cmd,
    rollback_cmd,
    schema_cmd,
    serve_cmd,
    show_cmd,
    state_cmd,
    try_cmd,
    validate_cmd,
)
from llmspec.core.diagnostics import SpecError
from llmspec.version import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

COMMANDS = {
    "validate": validate_cmd,
    "show": show_cmd,
    "explain": explain_cmd,
    "schema": schema_cmd,
    "init": init_cmd,
    "plan": plan_cmd,
    "apply": apply_cmd,
    "approve": approve_cmd,
    "render": render_cmd,
    "query": query_cmd,
    "destroy": destroy_cmd,
    "state": state_cmd,
    "rollback": rollback_cmd,
    "serve": serve_cmd,
    "predict": predict_cmd,
    "feedback": feedback_cmd,
    "monitor": monitor_cmd,
    "diff": diff_cmd,
    "audit": audit_cmd,
    "try": try_cmd,
}


def build_parser() -> argparse.ArgumentParser:
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
    for name, module in COMMANDS.items():
        module.add_parser(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse cannot take an optional positional after options (`explain SPEC -e prod PATH`):
    # a command names the positional that a single leftover word fills.
    field = getattr(COMMANDS.get(args.command or ""), "EXTRA_POSITIONAL", None)
    if field and len(extra) == 1 and not extra[0].startswith("-") and not getattr(args, field):
        setattr(args, field, extra.pop())
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from llmspec.cli.common import print_diagnostics

    try:
        done = COMMANDS[args.command].run(args)
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
    sys.exit(main())
