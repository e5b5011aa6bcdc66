"""Find spec files under the paths given on the command line."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path as FsPath

from llmspec.core.diagnostics import Diagnostic, Span, error

SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = frozenset(
    {
        ".git",
        ".llmspec",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "build",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
    }
)


def find_specs(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[FsPath], list[Diagnostic]]:
    """Spec files named directly, and every YAML file under folders except overlay files
    (``app.prod.yaml`` beside ``app.yaml``) and tool folders (.git, .venv, build…)."""
    found: list[FsPath] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = FsPath(raw)
        if path.is_dir():
            found.extend(_walk(path))
        elif path.exists():
            # an overlay file named directly (app.staging.yaml) is checked as part of its spec
            siblings = {p.name for p in path.parent.iterdir()}
            if _is_overlay(path.name, siblings):
                base = path.name.rsplit(".", 2)[0]
                path = next(path.with_name(base + s) for s in SUFFIXES if base + s in siblings)
            found.append(path)
        else:
            problems.append(error("LS100", f"`{raw}` does not exist", Span(str(raw), 1, 1)))
    unique = list(dict.fromkeys(found))
    return unique, problems


def _walk(folder: FsPath) -> list[FsPath]:
    out: list[FsPath] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        names = set(files)
        for name in sorted(files):
            if not name.endswith(SUFFIXES) or _is_overlay(name, names):
                continue
            out.append(FsPath(root) / name)
    return out


def _is_overlay(name: str, siblings: set[str]) -> bool:
    stem, _, _ = name.rpartition(".")
    base, dot, env = stem.rpartition(".")
    return bool(dot and env) and any(base + s in siblings for s in SUFFIXES)
