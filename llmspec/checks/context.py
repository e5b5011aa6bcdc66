"""What every check sees: the validated spec, its source map, and where it lives."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, TypeVar, cast

from llmspec.core.diagnostics import Related, Span
from llmspec.source.document import Document

if TYPE_CHECKING:
    from llmspec.spec import Spec

T = TypeVar("T")


@dataclass(frozen=True)
class CheckContext:
    spec: Spec
    doc: Document
    spec_dir: FsPath
    repo_root: FsPath
    env: str | None
    # Filesystem facts shared by the environments of one spec in one run, so a corpus glob
    # is matched once rather than once per environment.
    memo: dict[Any, Any] = field(default_factory=dict)

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = compute()
        return cast(T, self.memo[key])

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


@lru_cache(maxsize=256)
def repository_root(start: FsPath) -> FsPath:
    """The nearest folder above ``start`` holding `.git`; ``start`` itself when there is none."""
    start = FsPath(os.path.realpath(start))
    for folder in (start, *start.parents):
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
    return start
