"""The Git/CI workflow: `llmspec init --ci github` writes a workflow that GitHub's workflow
schema accepts, and the repository's pre-commit hook runs under `pre-commit try-repo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)


def llmspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "llmspec", *args, cwd=cwd)


def test_init_ci_github_writes_a_valid_workflow_and_never_overwrites(tmp_path: Path) -> None:
    done = llmspec("init", "demo-app", "--ci", "github", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workflow = tmp_path / ".github" / "workflows" / "llmspec.yml"
    checked = run(
        sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
        str(workflow), cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    # the scaffolded spec declares dev and prod: merges apply to dev, tags to prod
    assert set(jobs) == {"validate", "plan", "apply-dev", "apply-prod"}
    assert jobs["apply-prod"]["environment"] == "production"
    steps = " ".join(str(s.get("run", "")) for s in jobs["validate"]["steps"])
    assert "llmspec validate specs/ --format github" in steps
    plan = " ".join(str(s.get("run", "")) for s in jobs["plan"]["steps"])
    assert "--format markdown" in plan and "gh pr comment" in plan
    assert llmspec("validate", "specs/", cwd=tmp_path).returncode == 0
    again = llmspec("init", "--ci", "github", cwd=tmp_path)
    assert again.returncode == 1 and "LS100" in again.stderr


@pytest.mark.slow
def test_the_pre_commit_hook_runs_under_try_repo(tmp_path: Path) -> None:
    if shutil.which("git") is None or (
        shutil.which("pre-commit") is None
        and not (Path(sys.executable).parent / "pre-commit").exists()
    ):
        pytest.skip("needs git and pre-commit")
    pre_commit = str(Path(sys.executable).parent / "pre-commit")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    repo = tmp_path / "repo"
    repo.mkdir()
    assert llmspec("init", "demo-app", cwd=repo).returncode == 0
    for argv in (("git", "init", "-q"), ("git", "add", "-A")):
        run(*argv, cwd=repo)

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(ROOT), "llmspec-validate", "--all-files"],
            cwd=repo, capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip

    passed = hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "llmspec validate" in passed.stdout and "Passed" in passed.stdout
    spec = repo / "specs" / "demo-app.yaml"
    spec.write_text(spec.read_text().replace("apiVersion: llmspec/v1", "apiVersion: llmspec/v9"))
    run("git", "add", "-A", cwd=repo)
    failed = hook()
    assert failed.returncode == 1
    assert "specs/demo-app.yaml:" in failed.stdout and "error[LS" in failed.stdout
