"""What every check sees: the validated spec, its source map, and where it lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from llmspec.diagnostics import Related, Span
from llmspec.source.document import Document

if TYPE_CHECKING:
    from llmspec.spec import Spec


@dataclass(frozen=True)
class CheckContext:
    spec: Spec
    doc: Document
    spec_dir: FsPath
    repo_root: FsPath
    env: str | None

    def span(self, *path: str | int) -> Span | None:
        return self.doc.span(tuple(path))

    def key(self, *path: str | int) -> Span | None:
        return self.doc.key_span(tuple(path))

    def has(self, *path: str | int) -> bool:
        """Whether the spec (after overlays) wrote this path, rather than taking a default."""
        return tuple(path) in self.doc.values

    def related(self, message: str, *path: str | int) -> list[Related]:
        span = self.doc.span(tuple(path)) if self.has(*path) else None
        return [Related(span, message)] if span is not None else []


def repository_root(start: FsPath) -> FsPath:
    """The nearest folder above ``start`` holding `.git`; ``start`` itself when there is none."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


