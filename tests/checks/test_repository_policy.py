"""`llmspec-policy.yaml`: repository rules every spec must satisfy, tightened per environment,
with the policy's own line as the related note; an invalid policy is reported at its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

POLICY = """\
apiVersion: llmspec/v1
kind: Policy
policy:
  allowed_sources: [hf, local, builtin]
environments:
  prod:
    require_pinned_revision: true
    require_gates: true
    approvals: 1
"""


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", "validate", *args], cwd=cwd, capture_output=True,
        text=True,
    )  # fmt: skip


def scaffolded(tmp_path: Path) -> Path:
    """A new app whose prod uses a hub model on a branch, not a pinned commit."""
    (tmp_path / ".git").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "llmspec", "init", "demo-app"], cwd=tmp_path, capture_output=True
    )
    assert done.returncode == 0
    spec = tmp_path / "specs" / "demo-app.yaml"
    hub = "model: {source: hf, id: HuggingFaceTB/SmolLM2-135M-Instruct, revision: main}"
    text = spec.read_text().replace("  prod:\n", f"  prod:\n    {hub}\n")
    spec.write_text(text)
    return spec


def test_the_repository_policy_holds_in_the_environments_it_names(tmp_path: Path) -> None:
    scaffolded(tmp_path)
    assert validate("specs/", cwd=tmp_path).returncode == 0
    (tmp_path / "llmspec-policy.yaml").write_text(POLICY)
    done = validate("specs/", cwd=tmp_path)
    out = done.stderr + done.stdout
    assert done.returncode == 1, out
    assert "environment `prod` requires a pinned model revision" in out
    assert "llmspec-policy.yaml:7:" in out  # the rule's own line, as the related note
    assert "(dev ✗)" not in out and "prod ✗" in out  # dev is not bound by the prod rules


def test_a_disallowed_source_fails_everywhere(tmp_path: Path) -> None:
    spec = scaffolded(tmp_path)
    (tmp_path / "llmspec-policy.yaml").write_text(POLICY.replace("[hf, local, builtin]", "[hf]"))
    done = validate(str(spec.relative_to(tmp_path)), "-e", "dev", cwd=tmp_path)
    assert done.returncode == 1
    out = done.stderr + done.stdout
    assert "model source `builtin`, which governance does not allow" in out
    assert "llmspec-policy.yaml:4:" in out


def test_an_invalid_policy_is_reported_at_its_line(tmp_path: Path) -> None:
    scaffolded(tmp_path)
    broken = POLICY.replace("require_gates: true", "require_gates: sometimes")
    (tmp_path / "llmspec-policy.yaml").write_text(broken)
    done = validate("specs/", cwd=tmp_path)
    out = done.stderr + done.stdout
    assert done.returncode == 1
    assert "llmspec-policy.yaml:8:" in out and "error[LS203]" in out


def test_apply_needs_the_approvals_the_policy_asks_for(tmp_path: Path) -> None:
    scaffolded(tmp_path)
    policy = "apiVersion: llmspec/v1\nkind: Policy\nenvironments:\n  dev: {approvals: 1}\n"
    (tmp_path / "llmspec-policy.yaml").write_text(policy)
    done = subprocess.run(
        [sys.executable, "-m", "llmspec", "apply", "specs/demo-app.yaml", "-e", "dev"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and "LS605" in done.stderr, done.stdout + done.stderr
    assert "repository policy" in done.stderr
    assert not (tmp_path / "build").exists()  # nothing was applied
