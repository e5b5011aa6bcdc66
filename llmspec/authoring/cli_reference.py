"""docs/cli.md: every command, its arguments and examples, generated from the argument parsers
themselves (not from argparse's help text, whose layout changes between Python versions)."""

from __future__ import annotations

import argparse
from typing import Any

SUPPRESS = argparse.SUPPRESS


def cli_markdown() -> str:
    from llmspec.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = [
        "# Command reference",
        "",
        "Generated from the command-line parsers by `llmspec schema --docs docs`. Every command",
        "exits 0 when it did what it was asked, 1 when the input has errors (with diagnostics",
        "on stderr, see diagnostics.md; options that do not go together are `LS001`), 2 when",
        "the arguments cannot be parsed and 3 on an internal error; `plan --detailed-exitcode`",
        "(2: changes), `diff --exit-code` and `monitor` also use the exit code for their result.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    helps = {a.dest: a.help for a in sub._choices_actions}
    out += [
        f"| [`{name}`](#llmspec-{name}) | {_cell(helps.get(name) or '')} |" for name in COMMANDS
    ]
    for name in COMMANDS:
        out += ["", *_command(name, sub.choices[name])]
    return "\n".join(out) + "\n"


def _command(name: str, parser: argparse.ArgumentParser) -> list[str]:
    actions = [a for a in parser._actions if a.help != SUPPRESS and a.dest != "help"]
    lines = [f"## llmspec {name}", "", _cell(parser.description or ""), ""]
    lines += ["```", _synopsis(name, actions), "```", ""]
    if actions:
        lines += ["| argument | meaning | default |", "|---|---|---|"]
        lines += [
            f"| `{_pipes(_form(a))}` | {_cell(a.help or '')} | {_default(a)} |" for a in actions
        ]
        lines.append("")
    if parser.epilog:
        lines += ["```", parser.epilog.strip("\n"), "```"]
    return lines


def _synopsis(name: str, actions: list[argparse.Action]) -> str:
    words = [f"llmspec {name}"]
    for action in actions:
        if action.option_strings:
            word = _form(action, short=True)
            words.append(word if action.required else f"[{word}]")
        else:
            word = _metavar(action)
            words.append(f"[{word}]" if action.nargs in ("?", "*") else word)
            if action.nargs in ("+", "*"):
                words[-1] += "…"
    return " ".join(words)


def _form(action: argparse.Action, short: bool = False) -> str:
    if not action.option_strings:
        return _metavar(action)
    names = action.option_strings[:1] if short else action.option_strings
    joined = ", ".join(names) if not short else names[0]
    if action.nargs == 0:
        return joined
    return f"{joined} {_metavar(action)}"


def _metavar(action: argparse.Action) -> str:
    if action.metavar:
        return str(action.metavar)
    if action.choices:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _default(action: argparse.Action) -> str:
    value: Any = action.default
    if value is None or value is False or value == [] or value == SUPPRESS or action.nargs == 0:
        return ""
    return f"`{value}`"


def _pipes(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe inside a table cell, even in code


def _cell(text: str) -> str:
    return _pipes(" ".join(str(text).split())).replace("<", "&lt;")
