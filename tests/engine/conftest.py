"""A copy of the example specs in a temporary repository, and the CLI run with fake steps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

SPEC = "specs/support-bot.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMSPEC_FAKE_LOG", str(tmp_path / "runs.log"))
    return tmp_path


@pytest.fixture
def cli(project: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI (with the fake steps) in a real process, in the temporary repository."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.engine.runner", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=process_env(env),
        )

    return run


def process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}
    env.pop("FORCE_COLOR", None)
    return env


def runs(project: Path) -> list[str]:
    log = project / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


# The real PostgreSQL server of the state tests, for applies against a shared backend.
from tests.state.conftest import fresh_postgres_url, postgres_server  # noqa: E402, F401
