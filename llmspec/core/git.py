"""The git revision a repository is at, as git itself reports it (`git rev-parse`, `git status`):
right in worktrees and submodules, where `.git` is a file, and with packed or symbolic refs.
No git binary, or no repository, is no revision."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TIMEOUT_S = 10


@dataclass(frozen=True)
class Revision:
    commit: str
    dirty: bool  # tracked files differ from the commit: the lineage names code it does not hold


def revision(repo_root: Path) -> Revision | None:
    commit = _git(repo_root, "rev-parse", "--verify", "--quiet", "HEAD")
    if not commit:
        return None
    status = _git(repo_root, "status", "--porcelain", "--untracked-files=no")
    return Revision(commit, bool(status))


def head_commit(repo_root: Path) -> str | None:
    found = revision(repo_root)
    return found.commit if found is not None else None


def _git(repo_root: Path, *args: str) -> str | None:
    if _missing():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(repo_root), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def _missing() -> bool:
    import shutil

    return shutil.which("git") is None
