"""The recorded revision is git's own answer: in a plain clone, a worktree, a repository whose
`.git` is a file (submodules, `--separate-git-dir`), with packed refs, and with a dirty flag."""

from __future__ import annotations

import subprocess
from pathlib import Path

from llmspec.core.git import Revision, head_commit, revision
from llmspec.integrations.mlflow import Tag, lineage_tags


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def repository(folder: Path, *init: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", *init)
    (folder / "spec.yaml").write_text("a: 1\n")
    git(folder, "add", "spec.yaml")
    git(folder, "commit", "-qm", "first")
    return git(folder, "rev-parse", "HEAD")


def test_a_clean_then_dirty_working_tree(tmp_path: Path) -> None:
    commit = repository(tmp_path / "repo")
    assert revision(tmp_path / "repo") == Revision(commit, dirty=False)
    (tmp_path / "repo" / "notes.txt").write_text("untracked files are not the lineage's code")
    assert revision(tmp_path / "repo") == Revision(commit, dirty=False)
    (tmp_path / "repo" / "spec.yaml").write_text("a: 2\n")
    assert revision(tmp_path / "repo") == Revision(commit, dirty=True)
    assert lineage_tags(tmp_path / "repo") == {Tag.GIT_COMMIT: commit, Tag.GIT_DIRTY: "true"}


def test_worktrees_separate_git_dirs_and_packed_refs(tmp_path: Path) -> None:
    commit = repository(tmp_path / "repo")
    git(tmp_path / "repo", "worktree", "add", "-q", str(tmp_path / "wt"))
    assert (tmp_path / "wt" / ".git").is_file()
    assert head_commit(tmp_path / "wt") == commit
    other = repository(tmp_path / "sub", "--separate-git-dir", str(tmp_path / "sub.git"))
    assert (tmp_path / "sub" / ".git").is_file() and head_commit(tmp_path / "sub") == other
    git(tmp_path / "repo", "pack-refs", "--all")
    assert head_commit(tmp_path / "repo") == commit


def test_no_repository_is_no_revision(tmp_path: Path) -> None:
    assert revision(tmp_path) is None
    assert lineage_tags(tmp_path) == {Tag.GIT_COMMIT: ""}
