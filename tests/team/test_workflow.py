"""The generated GitHub workflow's own scripts, run here job by job against the team's servers
(a real `mlflow server`, moto's S3, PostgreSQL state), with `gh` the only stand-in: the pull
request's plan and its comment, the merge's apply, and the tag's plan → approve → apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmspec.integrations.mlflow import client_for
from tests.conftest import ROOT
from tests.team.servers import S3, Tracking

pytestmark = pytest.mark.slow

GH = """#!/bin/sh
# `gh pr comment N --body-file F` and `gh api …/approvals --jq …`, as GitHub would answer
case "$1" in
  pr) shift 3; cat "$2" >> "$GH_COMMENTS"; echo "--- comment" >> "$GH_COMMENTS" ;;
  api) cat "$REVIEWERS_FILE" ;;
esac
"""


def script(job: dict[str, Any], name: str) -> str:
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(name)]
    return str(step["run"])


def test_every_job_of_the_workflow_runs_against_the_team_servers(
    tracking_server: Tracking, s3: S3, fresh_postgres_url: str, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    cli = [sys.executable, "-m", "llmspec"]
    subprocess.run([*cli, "init", "demo-app", "--ci", "github"], cwd=repo, check=True)
    requirements = (repo / ".github" / "llmspec-requirements.txt").read_text()
    assert "llmspec[all,s3]==" in requirements
    # an overlay file beside the spec: planned with it, never alone (it used to fail the job)
    (repo / "specs" / "demo-app.prod.yaml").write_text("serving: {registry: {alias: champion}}\n")
    spec = repo / "specs" / "demo-app.yaml"
    spec.write_text(
        spec.read_text().replace("uri: .llmspec/lancedb", f"uri: s3://{s3.bucket}/wf-lancedb")
        + "state:\n  artifacts: s3://team/wf-builds\n"
    )
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "llmspec.yml").read_text())
    jobs = workflow["jobs"]
    for job in jobs.values():  # the install step reads the repository's requirements file
        installs = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
        assert installs == ['pip install -r "$LLMSPEC_REQUIREMENTS" -c "$LLMSPEC_CONSTRAINTS"']
    assert workflow["env"]["LLMSPEC_REQUIREMENTS"] == ".github/llmspec-requirements.txt"
    # ... through the versions the suite passed with, as README's commands and CI install
    assert workflow["env"]["LLMSPEC_CONSTRAINTS"] == ".github/llmspec-constraints.txt"
    pins = (repo / ".github" / "llmspec-constraints.txt").read_text().splitlines()
    tested = (ROOT / "constraints.txt").read_text().splitlines()
    assert [p for p in pins if not p.startswith("#")] == [
        p for p in tested if not p.startswith("#")
    ]
    assert any(p.startswith("mlflow==") for p in pins)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "llmspec").symlink_to(Path(sys.executable).parent / "llmspec")
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "gh").write_text(GH)
    (bin_dir / "gh").chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env = {
        **base,
        **s3.env,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "LLMSPEC_STATE": fresh_postgres_url,
        "MLFLOW_TRACKING_URI": tracking_server.uri,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": "acme/llm-apps",
        "GITHUB_RUN_ID": "7",
        "RUN_URL": "https://github.com/acme/llm-apps/actions/runs/7",
        "GH_COMMENTS": str(tmp_path / "comments.md"),
        "REVIEWERS_FILE": str(tmp_path / "reviewers"),
        "PR": "12",
    }

    def step(job: str, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script(jobs[job], name)],
            cwd=repo, capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip

    checked = step("validate", "Validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    planned = step("plan", "Plan every app")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    commented = step("plan", "Comment the plan")
    assert commented.returncode == 0, commented.stderr
    comment = (tmp_path / "comments.md").read_text()
    assert "### llmspec plan: 1 app(s) in `dev`" in comment
    assert "### llmspec plan: 1 app(s) in `prod`" in comment
    assert f"Tracking: `{tracking_server.uri} (from MLFLOW_TRACKING_URI)`" in comment

    staged = step("apply-dev", "Apply every app")
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    assert "Apply complete: 1 app(s), 0 failed." in staged.stdout

    saved = step("plan-prod", "Save the prod plan")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert sorted(p.name for p in (repo / "plans").iterdir()) == ["demo-app.json"]
    summary = (tmp_path / "summary.md").read_text()
    assert "reuse (built in dev)" in summary

    (tmp_path / "reviewers").write_text("alice\n")
    applied = step("apply-prod", "Record each reviewer")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    champion = client_for(tracking_server.uri).get_model_version_by_alias("demo-app", "champion")
    assert champion.tags.get("llmspec.promoted.champion") == "prod"
    recorded = json.loads(
        subprocess.run(
            [*cli, "state", "show", "specs/demo-app.yaml", "-e", "prod", "--state",
             fresh_postgres_url, "--json"],
            cwd=repo, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert recorded["resources"]["finetune.demo-app"]["env_built"] == "dev"
