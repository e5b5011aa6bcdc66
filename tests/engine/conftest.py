"""A copy of the example specs in a temporary repository, and the CLI run with fake steps: in
this process (``cli``, the default: fast) or in a real one (``cli_process``: for kills, locks
held by another process and entry points)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
def fake_steps() -> Iterator[None]:
    """The fake step kinds registered in this process, for the test only."""
    from llmspec.engine.registry import reset
    from tests.engine.fake_steps import install

    install()
    yield
    reset()


@pytest.fixture
def cli(
    project: Path, fake_steps: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI (with the fake steps) in this process, in the temporary repository: what a
    subprocess would print and return, without starting an interpreter for every command."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        from llmspec.cli import main

        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as scoped:
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(args))
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def cli_process(project: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
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


def record_graph(ws: Any) -> None:
    """Record every resource of the workspace's graph as complete, as apply records them."""
    from llmspec.state.model import ResourceState

    for r in ws.graph().resources.values():
        state = ResourceState(
            r.address,
            r.kind,
            r.inputs_digest,
            "complete",
            {},
            dict(r.config),
            dict(r.file_digests),
            dict(r.dep_digests),
            after=r.after,
        )
        ws.backend.put_resource(ws.app, ws.env, state)


def runs(project: Path) -> list[str]:
    log = project / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


# The real PostgreSQL server of the state tests, for applies against a shared backend.
from tests.state.conftest import fresh_postgres_url, postgres_server  # noqa: E402, F401
