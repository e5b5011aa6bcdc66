"""Map an offset inside a scalar's value back to a line and column in its file."""

from __future__ import annotations

from collections.abc import Mapping

from llmspec.core.diagnostics import Span


def span_in_value(
    span: Span, value: str, offset: int, length: int, sources: Mapping[str, str]
) -> Span:
    """The span of ``value[offset:offset+length]``, where ``span`` is the scalar's own span.

    Exact arithmetic for literal blocks (``|``) and for one-line scalars written as they read;
    otherwise (folded blocks, escapes, multi-line flow scalars) the text around the offset is
    looked up in the scalar's source lines; failing that, the scalar's start is returned.
    """
    lines = sources.get(span.file, "").split("\n")
    before = value[:offset]
    newlines = before.count("\n")
    col_in_line = offset - (before.rfind("\n") + 1)
    if span.style == "|":
        line = span.line + 1 + newlines
        return span.point(line, _indent(lines, line) + 1 + col_in_line, length)
    quote = 1 if span.style in ("'", '"') else 0
    if span.end_line == span.line and 0 < span.line <= len(lines):
        raw = lines[span.line - 1][span.col - 1 + quote : span.end_col - quote]
        if raw == value:
            return span.point(span.line, span.col + quote + offset, length)
    found = _search(lines, span, value, offset)
    return span.point(*found, length) if found else span.point(span.line, span.col, length)


def _search(lines: list[str], span: Span, value: str, offset: int) -> tuple[int, int] | None:
    end = value.find("\n", offset)
    fragment = value[offset : end if end >= 0 else len(value)][:40].rstrip()
    if not fragment:
        return None
    last = min(len(lines), span.end_line if span.end_line >= span.line else span.line)
    for number in range(span.line, last + 1):
        text = lines[number - 1]
        start = span.col - 1 if number == span.line else 0
        at = text.find(fragment, start)
        if at >= 0:
            return number, at + 1
    return None


def _indent(lines: list[str], line: int) -> int:
    if not 0 < line <= len(lines):
        return 0
    source = lines[line - 1]
    return len(source) - len(source.lstrip(" "))
