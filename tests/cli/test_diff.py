"""`llmspec diff`: resolved values of two environments, or of a git revision and the working
tree, compared field by field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def llmspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args], cwd=cwd, capture_output=True, text=True
    )


def test_two_environments_differ_by_their_overlays_only() -> None:
    done = llmspec("diff", "specs/support-bot.yaml", "--env-a", "staging", "--env-b", "prod",
                   "--format", "json", cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    changes = {c["path"]: (c["staging"], c["prod"]) for c in json.loads(done.stdout)["changes"]}
    assert changes["finetune.compute.num_machines"] == (1, 2)
    assert changes["serving.registry.alias"] == ("challenger", "champion")
    assert "prompts.system" not in changes  # the same in both
    flagged = llmspec("diff", "specs/support-bot.yaml", "--env-a", "staging", "--env-b", "prod",
                      "--exit-code", cwd=ROOT)  # fmt: skip
    assert flagged.returncode == 1 and "finetune.compute.num_machines" in flagged.stdout


def test_a_revision_against_the_working_tree(tmp_path: Path) -> None:
    def git(*argv: str) -> None:
        subprocess.run(["git", *argv], cwd=tmp_path, check=True, capture_output=True)

    assert llmspec("init", "demo-app", cwd=tmp_path).returncode == 0
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "demo")
    spec = tmp_path / "specs" / "demo-app.yaml"
    same = llmspec("diff", "specs/demo-app.yaml", "-e", "prod", "--from-ref", "HEAD",
                   cwd=tmp_path)  # fmt: skip
    assert same.returncode == 0 and "No differences" in same.stdout
    text = spec.read_text()
    assert "top_k: 3" in text
    spec.write_text(text.replace("top_k: 3", "top_k: 6"))
    changed = llmspec("diff", "specs/demo-app.yaml", "-e", "prod", "--from-ref", "HEAD",
                      "--exit-code", cwd=tmp_path)  # fmt: skip
    assert changed.returncode == 1, changed.stderr
    assert "retrieval.top_k" in changed.stdout and "3 → 6" in changed.stdout
    missing = llmspec("diff", "specs/demo-app.yaml", "--from-ref", "no-such-ref", cwd=tmp_path)
    assert missing.returncode == 1 and "LS100" in missing.stderr
    both = llmspec("diff", "specs/demo-app.yaml", "--from-ref", "HEAD", "--env-a", "dev",
                   cwd=tmp_path)  # fmt: skip
    assert both.returncode == 1 and "LS001" in both.stderr
