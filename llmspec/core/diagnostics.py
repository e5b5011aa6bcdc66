"""One type for every user-facing problem: :class:`Diagnostic`, with its :class:`Span`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from llmspec.core.codes import CODES


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Span(NamedTuple):
    """A place in a source: 1-based line and column, end inclusive of the last character.

    ``layer`` names where the value came from when overlays are involved (``base``,
    ``environments.prod``, an overlay file, ``--set``); ``style`` is the YAML scalar style
    (``|``, ``>``, ``'``, ``"`` or empty for plain) so later stages can map offsets inside
    a block scalar back onto file lines. A NamedTuple rather than a frozen dataclass: the loader
    makes one per YAML node and tuples are several times cheaper to create.
    """

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0
    layer: str = "base"
    style: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def with_layer(self, layer: str) -> Span:
        return self._replace(layer=layer)

    def point(self, line: int, col: int, length: int = 1) -> Span:
        """A span inside this one's file (used to point at a line within a block scalar)."""
        return Span(self.file, line, col, line, col + max(length, 1) - 1, self.layer, "")


@dataclass(frozen=True, slots=True)
class Related:
    """A second place a diagnostic refers to (like rustc's notes)."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem found in a spec: stable code, severity, message, where, and how to fix it."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    related: tuple[Related, ...] = ()
    severity: Severity = field(default=Severity.ERROR)

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a programming error, never a user one
            raise ValueError(f"unregistered diagnostic code {self.code}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, object]:
        def span_json(span: Span | None) -> dict[str, object] | None:
            if span is None:
                return None
            return {
                "file": span.file,
                "line": span.line,
                "column": span.col,
                "end_line": span.end_line or span.line,
                "end_column": span.end_col or span.col,
                "layer": span.layer,
            }

        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "span": span_json(self.span),
            "hint": self.hint,
            "related": [{"message": r.message, "span": span_json(r.span)} for r in self.related],
        }


def error(
    code: str,
    message: str,
    span: Span | None = None,
    hint: str | None = None,
    related: Iterable[Related] = (),
) -> Diagnostic:
    return Diagnostic(code, message, span, hint, tuple(related), Severity.ERROR)


def warning(
    code: str,
    message: str,
    span: Span | None = None,
    hint: str | None = None,
    related: Iterable[Related] = (),
) -> Diagnostic:
    return Diagnostic(code, message, span, hint, tuple(related), Severity.WARNING)


class SpecError(Exception):
    """Raised by a stage that found errors; carries every diagnostic it collected."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = next((d for d in self.diagnostics if d.is_error), None)
        super().__init__(f"{first.span}: {first.code} {first.message}" if first else "spec error")


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A ``did you mean `x`?`` hint for a misspelt key or value, or None."""
    import difflib  # only when something is misspelt

    options = [c for c in choices if isinstance(c, str)]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in options}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"did you mean `{match[0]}`?" if match else None


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    if d.span is None:
        return ("", 0, 0, d.code)
    return (d.span.file, d.span.line, d.span.col, d.code)
