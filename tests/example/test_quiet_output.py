"""Only llmspec speaks on the terminal: the example's dev apply and a scaffolded app's apply
print no library warning or log line (they go to each step's log file under .llmspec/logs)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import llmspec

pytestmark = pytest.mark.slow

# what a library's voice looks like: a warning (`UserWarning: …`, the source line under it that
# `warnings` prints with its `warn(` call), or a logging format (`INFO:mlflow…`, `2026-12-02
# 03:21:06,123 INFO …`, `[2026-12-02 03:21:06,123 I 123 456] core_worker.cc`, `(raylet)`)
LIBRARY = re.compile(
    r"Warning|warn\(|^(DEBUG|INFO|WARNING|ERROR|CRITICAL)[: ]|"
    r"\d{4}[-/]\d\d[-/]\d\d[ T]\d\d:\d\d:\d\d\S*\s.*\b(DEBUG|INFO|WARNING|WARN|ERROR)\b|"
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\((raylet|pid=\d+)\)"
)


def library_lines(*outputs: str) -> list[str]:
    return [line for out in outputs for line in out.splitlines() if LIBRARY.search(line)]


LIBRARY_LINES = [
    "/x/mlflow/pyfunc/__init__.py:3271: UserWarning: Failed to infer signature",
    "  warnings.warn(",
    "2026/12/02 03:21:06 INFO mlflow.store.db.utils: Creating initial MLflow database tables",
    "INFO:alembic.runtime.migration:Running upgrade",
    "2026-12-02 03:21:06,123\tINFO worker.py:1900 -- Started a local Ray instance.",
    "[2026-12-02 03:21:06,123 I 812 812] core_worker_process.cc:190: Constructing",
    "(raylet) [2026-12-02 03:21:06] spilled 3 objects",
]
OWN_LINES = [
    "  ✓ package.support-bot: done (3.7s)",
    "    registered support-bot version 1 (run 1670e36be2ab45de8a11e1d52d9b5aff)",
    "    10 steps, loss 5.907 → 4.299; training answers ROUGE-L 0.00 → 0.44",
    "Apply complete: 6 of 6 changes applied. (Plan: 6 to create, 0 unchanged.)",
]


def test_the_pattern_knows_a_library_line_from_llmspecs_own() -> None:
    assert [library_lines(line) for line in LIBRARY_LINES] == [[line] for line in LIBRARY_LINES]
    assert library_lines(*OWN_LINES) == []


def test_the_example_dev_apply_prints_only_llmspecs_progress(applied: dict[str, Any]) -> None:
    assert library_lines(applied["out"], applied["err"]) == []
    logs = Path(applied["repo"]) / ".llmspec" / "logs" / "support-bot" / "dev"
    assert (logs / "package.support-bot.log").is_file()  # where the libraries' words went


def test_a_scaffolded_apps_apply_prints_only_llmspecs_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / ".git").mkdir()
    assert llmspec("init", "demo-app", cwd=tmp_path).returncode == 0
    done = llmspec("apply", "specs/demo-app.yaml", "-e", "dev", cwd=tmp_path,
                   env={"PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "")})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Apply complete" in done.stdout
    assert library_lines(done.stdout, done.stderr) == []
