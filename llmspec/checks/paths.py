"""Data paths exist and stay inside the spec's repository (unless governance allows a folder)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path as FsPath

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, error
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
        if spec.finetune.preference is not None:
            data = spec.finetune.preference.dataset
            yield ("finetune", "preference", "dataset", "train"), data.train, "file"
            if data.validation:
                yield ("finetune", "preference", "dataset", "validation"), data.validation, "file"
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
    allowed = [os.path.realpath(p) for p in ctx.spec.governance.allowed_external_paths]
    for path, value, kind in data_paths(ctx):
        if value.startswith(_REMOTE):
            continue
        problem = ctx.cached(
            ("path", kind, value, tuple(allowed)),
            partial(_problem, ctx, value, kind, allowed),
        )
        if problem is not None:
            code, message, hint = problem
            yield error(code, message, ctx.span(*path), hint=hint)


def _problem(
    ctx: CheckContext, value: str, kind: str, allowed: list[str]
) -> tuple[str, str, str | None] | None:
    """(code, message, hint) of what is wrong with one data path, or None."""
    static = _static_prefix(value) if kind == "glob" else value
    resolved = os.path.realpath(os.path.join(ctx.spec_dir, static))
    root = str(ctx.repo_root)
    if not _inside(resolved, root) and not any(_inside(resolved, a) for a in allowed):
        return (
            "LS431",
            f"`{value}` points outside the repository",
            "keep data in the repository, or list the folder in "
            "`governance.allowed_external_paths`",
        )
    if kind == "glob":
        if _matches_any(ctx.spec_dir, value):
            return None
        return (
            "LS432",
            f"`{value}` matches no files",
            "patterns are relative to the spec's folder",
        )
    target = ctx.spec_dir / value
    if kind == "file" and not target.is_file():
        return "LS430", f"file `{value}` does not exist", _suggest(value, target)
    if kind == "folder" and not target.is_dir():
        return "LS430", f"folder `{value}` does not exist", _suggest(value, target)
    return None


def _suggest(value: str, target: FsPath) -> str:
    if target.parent.is_dir():
        siblings = [p.name for p in target.parent.iterdir()]
        import difflib  # only when something is misspelt

        match = difflib.get_close_matches(target.name, siblings, n=1, cutoff=0.6)
        if match:
            return f"did you mean `{FsPath(value).parent / match[0]}`?"
    return "paths are relative to the spec's folder"


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


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
