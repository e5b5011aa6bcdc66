"""The parsed YAML tree together with a source map: for every path, where it was set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspec.core.diagnostics import Span

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("finetune", "lora", "r")`` -> ``finetune.lora.r``; list items as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def parse_path(text: str) -> Path:
    """The inverse of :func:`format_path` for dotted paths with optional ``[i]`` items."""
    parts: list[str | int] = []
    for piece in text.split("."):
        while "[" in piece and piece.endswith("]"):
            head, _, rest = piece.partition("[")
            if head:
                parts.append(head)
            index, _, piece = rest.partition("]")
            parts.append(int(index) if index.isdigit() else index)
            piece = piece.lstrip(".")
        if piece:
            parts.append(piece)
    return tuple(parts)


ABSENT: Any = object()


def child(node: Any, part: str | int) -> Any:
    """``node[part]`` for a mapping key or an in-range list index, else ``ABSENT``."""
    if isinstance(node, dict):
        return node.get(part, ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return ABSENT


@dataclass(frozen=True)
class Document:
    """A spec (or overlay) as data plus positions.

    ``values`` maps each path to the span of its value, ``keys`` maps each mapping entry's path
    to the span of its key. Stages never mutate a Document; they build a new one.
    """

    file: str
    data: Any
    values: Mapping[Path, Span]
    keys: Mapping[Path, Span]
    sources: Mapping[str, str] = field(default_factory=dict)

    def span(self, path: Path) -> Span | None:
        """The span of the value at ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            span = self.values.get(path[:end])
            if span is not None:
                return span
        return None

    def key_span(self, path: Path) -> Span | None:
        """The span of the key that introduces ``path`` (falls back to the value's span)."""
        return self.keys.get(path) or self.span(path)

    def get(self, path: Path, default: Any = None) -> Any:
        node = self.data
        for part in path:
            node = child(node, part)
            if node is ABSENT:
                return default
        return node
