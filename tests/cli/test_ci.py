"""The Git/CI workflow: `llmspec init --ci github` writes a workflow that GitHub's workflow
schema accepts, and the repository's pre-commit hook runs under `pre-commit try-repo`."""

from __future__ import annotations

import json
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
    assert set(jobs) == {"validate", "plan", "apply-dev", "plan-prod", "apply-prod"}
    assert jobs["apply-prod"]["environment"] == "production"
    assert jobs["apply-prod"]["needs"] == "plan-prod"  # reviewers approve after the plans exist
    assert jobs["apply-prod"]["permissions"]["actions"] == "read"  # to read who approved
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


def script(job: dict, name: str) -> str:  # type: ignore[type-arg]
    return str(next(s["run"] for s in job["steps"] if s.get("name", "").startswith(name)))


@pytest.mark.slow
def test_the_prod_jobs_record_the_reviewers_approvals_and_apply_the_saved_plans(
    tmp_path: Path,
) -> None:
    """The tag jobs' own scripts, run here: the plans saved by plan-prod, approved in the names
    GitHub's API gives as the deployment's reviewers (a `gh` on PATH answers as the API would),
    then applied. Without a reviewer, apply refuses (LS605)."""
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    assert llmspec("init", "demo-app", "--ci", "github", cwd=repo).returncode == 0
    policy = "apiVersion: llmspec/v1\nkind: Policy\nenvironments:\n  prod: {approvals: 2}\n"
    (repo / "llmspec-policy.yaml").write_text(policy)
    jobs = yaml.safe_load((repo / ".github/workflows/llmspec.yml").read_text())["jobs"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "llmspec").symlink_to(Path(sys.executable).parent / "llmspec")
    gh = bin_dir / "gh"
    gh.write_text('#!/bin/sh\ncat "$REVIEWERS_FILE"\n')  # `gh api … --jq …`'s answer
    gh.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "LLMSPEC_STATE": f"sqlite:///{tmp_path / 'shared-state.db'}",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": "acme/llm-apps",
        "GITHUB_RUN_ID": "42",
        "RUN_URL": "https://github.com/acme/llm-apps/actions/runs/42",
        "REVIEWERS_FILE": str(tmp_path / "reviewers"),
    }

    def step(job: str, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script(jobs[job], name)],
            cwd=repo, capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip

    planned = step("plan-prod", "Save the prod plan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert (repo / "plans" / "demo-app.json").is_file()
    assert "llmspec plan: `demo-app` in `prod`" in (tmp_path / "summary.md").read_text()

    (tmp_path / "reviewers").write_text("alice\n")  # one reviewer; the policy asks for two
    refused = step("apply-prod", "Record each reviewer")
    assert refused.returncode != 0 and "LS605" in refused.stderr and "(alice)" in refused.stderr

    (tmp_path / "reviewers").write_text("alice\nbob\n")
    applied = step("apply-prod", "Record each reviewer")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete" in applied.stdout
    audit = llmspec("audit", "specs/demo-app.yaml", "-e", "prod", "--state", env["LLMSPEC_STATE"],
                    "--format", "json", cwd=repo)  # fmt: skip
    events = json.loads(audit.stdout)
    approvers = {e["who"].split("@")[0] for e in events if e["event"] == "approve"}
    assert approvers == {"alice", "bob"}
    assert any("approved by alice, bob" in e["what"] for e in events if e["event"] == "promoted")
