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


def fails_under(policy: str, repo: Path) -> str:
    """The repository's specs validate; with ``policy`` written they fail: the output."""
    assert validate("specs/", cwd=repo).returncode == 0
    (repo / "llmspec-policy.yaml").write_text(policy)
    done = validate("specs/", cwd=repo)
    out = done.stderr + done.stdout
    assert done.returncode == 1, out
    return out


def test_the_repository_policy_holds_in_the_environments_it_names(tmp_path: Path) -> None:
    scaffolded(tmp_path)
    out = fails_under(POLICY, tmp_path)
    assert "environment `prod` requires a pinned model revision" in out
    assert "llmspec-policy.yaml:7:" in out  # the rule's own line, as the related note
    assert "(dev ✗)" not in out and "prod ✗" in out  # dev is not bound by the prod rules


def test_prod_without_a_gate_fails_the_policy(tmp_path: Path) -> None:
    spec = scaffolded(tmp_path)
    text = spec.read_text()
    text = text.replace('  gates:\n    - {metric: retrieval_recall@3, op: ">=", value: 0.5}\n', "")
    text = text.replace("    governance: {require_gates: true}\n", "")  # the spec's own rule
    pinned = "revision: 0123456789abcdef0123456789abcdef01234567"
    spec.write_text(text.replace("revision: main", pinned))
    out = fails_under(POLICY, tmp_path)
    assert "environment `prod` requires evaluation gates before promotion" in out
    assert "llmspec-policy.yaml:8:" in out and "prod ✗" in out and "dev ✗" not in out


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


def test_the_policy_bounds_the_external_folders_a_spec_may_open(tmp_path: Path) -> None:
    spec = scaffolded(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-shared" / "corpus"
    outside.mkdir(parents=True)
    (outside / "page.md").write_text("# Shared\n\nA page kept outside the repository.\n")
    text = spec.read_text().replace(
        'paths: ["${vars.data}/corpus/**/*.md"]',
        f'paths: ["${{vars.data}}/corpus/**/*.md", "{outside}/*.md"]',
    )
    spec.write_text(text + f"governance:\n  allowed_external_paths: [{outside.parent}]\n")
    assert validate("specs/", cwd=tmp_path).returncode == 0  # the spec's own list widens
    policy = (
        "apiVersion: llmspec/v1\nkind: Policy\npolicy:\n  allowed_external_paths: [/srv/data]\n"
    )
    (tmp_path / "llmspec-policy.yaml").write_text(policy)
    done = validate("specs/", cwd=tmp_path)
    out = done.stderr + done.stdout
    assert done.returncode == 1, out
    assert f"`{outside.parent}` is not among the external folders the repository policy" in out
    assert "llmspec-policy.yaml:4:" in out
    (tmp_path / "llmspec-policy.yaml").write_text(policy.replace("/srv/data", str(tmp_path.parent)))
    assert validate("specs/", cwd=tmp_path).returncode == 0  # inside the policy's folder


def test_a_judge_is_held_to_the_allowed_sources_too(tmp_path: Path) -> None:
    spec = scaffolded(tmp_path)
    judge = (
        "  metrics:\n    - retrieval_recall@3\n    - name: helpful\n      judge:\n"
        "        rubric: Is the answer helpful?\n"
        "        model: {source: openai-compatible, base_url: 'https://llm.example.com/v1', "
        "id: big-model}\n"
    )
    text = spec.read_text().replace(
        "  metrics: [exact_match, rouge_l, retrieval_recall@3]\n", judge
    )
    spec.write_text(text)
    out = fails_under(POLICY, tmp_path)  # hf, local, builtin only
    assert "the judge of `helpful` uses model source `openai-compatible`" in out
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "openai-compatible" in t)
    assert f"demo-app.yaml:{line}:" in out and "llmspec-policy.yaml:4:" in out
