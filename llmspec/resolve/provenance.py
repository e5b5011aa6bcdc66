"""`llmspec explain`: where each part of a resolved value came from (a file and line, an overlay,
or a default), read from the positions every stage keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspec.core.diagnostics import Span
from llmspec.source.document import ABSENT, Path, child, format_path, parse_path

if TYPE_CHECKING:  # the front end's result; it imports this room, not the reverse
    from llmspec.frontend import ResolvedSpec


@dataclass(frozen=True)
class Provenance:
    path: Path
    value: Any
    span: Span | None  # None: the value is the schema's default
    written: str | None  # the source text when it differs from the value (interpolation)


def resolved_data(resolved: ResolvedSpec) -> dict[str, Any]:
    """The validated spec as plain data with defaults filled in; secrets stay references."""
    data: dict[str, Any] = resolved.spec.model_dump(mode="json", exclude={"environments"})
    return data


def explain(resolved: ResolvedSpec, dotted: str = "") -> list[Provenance]:
    """One entry per leaf under ``dotted`` (the whole spec when empty).

    Raises KeyError when the path does not exist in the resolved spec.
    """
    path = parse_path(dotted) if dotted else ()
    node: Any = resolved_data(resolved)
    for part in path:
        node = child(node, part)
        if node is ABSENT:
            raise KeyError(format_path(path))
    out: list[Provenance] = []
    _leaves(resolved, path, node, out)
    return out


def _leaves(resolved: ResolvedSpec, path: Path, node: Any, out: list[Provenance]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _leaves(resolved, path + (key,), value, out)
        return
    if isinstance(node, list) and node and any(isinstance(v, (dict, list)) for v in node):
        for i, value in enumerate(node):
            _leaves(resolved, path + (i,), value, out)
        return
    span = resolved.document.values.get(path)
    out.append(Provenance(path, node, span, _written(resolved, span)))


def _written(resolved: ResolvedSpec, span: Span | None) -> str | None:
    if span is None:
        return None
    text = resolved.document.sources.get(span.file)
    if text is None:
        return None
    lines = text.split("\n")
    if not 0 < span.line <= len(lines):
        return None
    line = lines[span.line - 1]
    end = span.end_col if span.end_line == span.line else len(line)
    written = line[span.col - 1 : end]
    return written.strip() if "${" in written else None
