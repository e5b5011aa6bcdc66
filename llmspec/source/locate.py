"""Map an offset inside a scalar's value back to a line and column in its file."""

from __future__ import annotations

from collections.abc import Mapping

from llmspec.diagnostics import Span


def span_in_value(span: Span, value: str, offset: int, length: int,
                  sources: Mapping[str, str]) -> Span:
    """The span of ``value[offset:offset+length]``, where ``span`` is the scalar's own span.

    Exact for single-line scalars and literal blocks (``|``), close for folded ones.
    """
    before = value[:offset]
    newlines = before.count("\n")
    col_in_line = offset - (before.rfind("\n") + 1)
    if span.style in ("|", ">"):
        line = span.line + 1 + newlines
        indent = _indent(sources.get(span.file, ""), line)
        return span.point(line, indent + 1 + col_in_line, length)
    if newlines:
        return span.point(span.line + newlines, col_in_line + 1, length)
    quote = 1 if span.style in ("'", '"') else 0
    return span.point(span.line, span.col + quote + col_in_line, length)


def _indent(text: str, line: int) -> int:
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return 0
    source = lines[line - 1]
    return len(source) - len(source.lstrip(" "))
