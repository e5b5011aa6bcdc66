"""Data paths exist and stay inside the spec's repository (unless governance allows a folder)."""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Iterator
from pathlib import Path as FsPath

from llmspec.checks.context import CheckContext
from llmspec.diagnostics import Diagnostic, Span, error
from llmspec.source.document import Path

_REMOTE = ("s3://", "gs://", "az://", "abfs://", "http://", "https://", "hf://")


def data_paths(ctx: CheckContext) -> Iterator[tuple[Path, str, str]]:
    """(spec path, value, kind) for every local path the spec reads: file, folder or glob."""
    spec = ctx.spec
    if spec.model.source == "local":
        yield ("model", "path"), spec.model.path, "folder"
    if spec.finetune is not None:
        yield ("finetune", "dataset", "train"), spec.finetune.dataset.train, "file"
        if spec.finetune.dataset.validation:
            yield ("finetune", "dataset", "validation"), spec.finetune.dataset.validation, "file"
    if spec.evaluation is not None:
        for name, dataset in spec.evaluation.datasets.items():
            path: Path = ("evaluation", "datasets", name)
            if ctx.has(*path, "path"):
                path = path + ("path",)
            yield path, dataset.path, "file"
    if spec.retrieval is not None:
        for i, pattern in enumerate(spec.retrieval.corpus.paths):
            yield ("retrieval", "corpus", "paths", i), pattern, "glob"


def check_paths(ctx: CheckContext) -> Iterator[Diagnostic]:
    allowed = [FsPath(p).resolve() for p in ctx.spec.governance.allowed_external_paths]
    for path, value, kind in data_paths(ctx):
        if value.startswith(_REMOTE):
            continue
        span = ctx.span(*path)
        target = (ctx.spec_dir / value)
        static = FsPath(_static_prefix(value)) if kind == "glob" else FsPath(value)
        resolved = (ctx.spec_dir / static).resolve()
        if not _inside(resolved, ctx.repo_root) and not any(_inside(resolved, a) for a in allowed):
            yield error("LS431", f"`{value}` points outside the repository ({ctx.repo_root})",
                        span, hint="keep data in the repository, or list the folder in "
                                   "`governance.allowed_external_paths`")
            continue
        if kind == "glob":
            if not _matches_any(ctx.spec_dir, value):
                yield error("LS432", f"`{value}` matches no files", span,
                            hint=f"patterns are relative to the spec's folder ({ctx.spec_dir})")
            continue
        if kind == "file" and not target.is_file():
            yield _missing(value, target, span, "file")
        elif kind == "folder" and not target.is_dir():
            yield _missing(value, target, span, "folder")


def _missing(value: str, target: FsPath, span: Span | None, what: str) -> Diagnostic:
    hint = None
    if target.parent.is_dir():
        siblings = [p.name for p in target.parent.iterdir()]
        match = difflib.get_close_matches(target.name, siblings, n=1, cutoff=0.6)
        if match:
            hint = f"did you mean `{str(FsPath(value).parent / match[0])}`?"
    return error("LS430", f"{what} `{value}` does not exist", span,
                 hint=hint or "paths are relative to the spec's folder")


def _static_prefix(pattern: str) -> str:
    parts = []
    for part in FsPath(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return os.path.join(*parts) if parts else "."


def _matches_any(root: FsPath, pattern: str) -> bool:
    for _ in glob.iglob(pattern, root_dir=root, recursive=True):
        return True
    return False


def _inside(path: FsPath, folder: FsPath) -> bool:
    return path == folder or folder in path.parents
