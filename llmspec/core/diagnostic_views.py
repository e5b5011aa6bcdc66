"""Render diagnostics: compiler-style text, JSON, or GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FsPath

from llmspec.core.diagnostics import Diagnostic, Severity, Span, sort_key

FORMATS = ("text", "json", "github")
# Source lines are echoed to a terminal: tabs become spaces, other control characters a symbol.
_PRINTABLE = {c: "\ufffd" for c in (*range(0x20), 0x7F)} | {0x09: " "}
JSON_FORMAT_VERSION = 1


def unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each problem once, in file order (the same base error shows up in every environment)."""
    seen: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        span = d.span
        key = (
            d.code,
            d.message,
            span.file if span else None,
            span.line if span else None,
            span.col if span else None,
        )
        seen.setdefault(key, d)
    return sorted(seen.values(), key=sort_key)


class SourceLines:
    """Source text by file, from what the stages kept, else read from disk."""

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        self._text: dict[str, list[str]] = {k: v.split("\n") for k, v in (known or {}).items()}

    def add(self, known: Mapping[str, str]) -> None:
        for name, text in known.items():
            self._text.setdefault(name, text.split("\n"))

    def line(self, file: str, number: int) -> str | None:
        if file not in self._text:
            try:
                self._text[file] = (
                    FsPath(file).read_text(encoding="utf-8", errors="replace").split("\n")
                )
            except OSError:
                self._text[file] = []
        lines = self._text[file]
        return lines[number - 1] if 0 < number <= len(lines) else None


def render_text(
    diagnostics: Sequence[Diagnostic], sources: SourceLines, color: bool = False
) -> str:
    out: list[str] = []
    for d in diagnostics:
        out.append(_text_one(d, sources, color))
    return "\n".join(out)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _text_one(d: Diagnostic, sources: SourceLines, color: bool) -> str:
    colour = {Severity.ERROR: "1;31", Severity.WARNING: "1;33", Severity.NOTE: "1;36"}[d.severity]
    head = _paint(f"{d.severity.value}[{d.code}]", colour, color) + _paint(
        f": {d.message}", "1", color
    )
    lines = [head]
    if d.span is not None:
        lines.extend(_snippet(d.span, sources, color, colour))
    for related in d.related:
        lines.append(_paint("note", "1;36", color) + f": {related.message}")
        lines.extend(_snippet(related.span, sources, color, "1;36"))
    if d.hint:
        lines.append(f"   = {_paint('hint', '1', color)}: {d.hint}")
    return "\n".join(lines) + "\n"


def _snippet(span: Span, sources: SourceLines, color: bool, colour: str) -> list[str]:
    layer = f" ({span.layer})" if span.layer not in ("base", "") else ""
    gutter = " " * len(str(span.line))
    lines = [f"{gutter}--> {span}{layer}"]
    text = sources.line(span.file, span.line)
    if text is None:
        return lines
    text = text.translate(_PRINTABLE)
    width = 1
    if span.end_line == span.line and span.end_col >= span.col:
        width = span.end_col - span.col + 1
    width = max(1, min(width, len(text) - span.col + 1 if len(text) >= span.col else 1))
    caret = " " * (span.col - 1) + _paint("^" * width, colour, color)
    lines += [f"{gutter} |", f"{span.line} | {text}", f"{gutter} | {caret}"]
    return lines


def render_json(
    diagnostics: Sequence[Diagnostic], extra: Mapping[str, object] | None = None
) -> str:
    payload: dict[str, object] = {
        "format_version": JSON_FORMAT_VERSION,
        "errors": sum(d.is_error for d in diagnostics),
        "warnings": sum(d.severity is Severity.WARNING for d in diagnostics),
        "diagnostics": [d.to_json() for d in diagnostics],
    }
    payload.update(extra or {})
    return json.dumps(payload, indent=2, ensure_ascii=False)


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one ``::error file=…`` line per diagnostic."""
    out = []
    for d in diagnostics:
        level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}[
            d.severity
        ]
        props = [f"title={_prop(d.code)}"]
        if d.span is not None:
            props = [f"file={_prop(d.span.file)}", f"line={d.span.line}", f"col={d.span.col}"]
            if d.span.end_line == d.span.line and d.span.end_col >= d.span.col:
                props += [f"endLine={d.span.line}", f"endColumn={d.span.end_col}"]
            props.append(f"title={_prop(d.code)}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        out.append(f"::{level} {','.join(props)}::{_data(message)}")
    return "\n".join(out)


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
