"""An apply killed with SIGKILL resumes; two applies on one app+env never run together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.conftest import SPEC, process_env, runs

SLOW = "finetune.support-bot"


def start_apply(project: Path, *extra: str, slow: str = SLOW) -> subprocess.Popen[str]:
    env = process_env(
        {
            "LLMSPEC_FAKE_SLOW": slow,
            "LLMSPEC_FAKE_SLOW_SECONDS": "60",
            "LLMSPEC_FAKE_LOG": str(project / "runs.log"),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.runner", "apply", SPEC, "-e", "dev", *extra],
        cwd=project,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(project: Path, line: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if line in runs(project):
            return
        time.sleep(0.05)
    raise AssertionError(f"`{line}` never appeared in the run log: {runs(project)}")


def test_kill_9_mid_step_then_apply_finishes_without_redoing(cli, project: Path) -> None:
    process = start_apply(project)
    wait_for(project, f"start {SLOW}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    state_file = project / ".llmspec/state/support-bot/dev/state.json"
    state = json.loads(state_file.read_text())  # still valid JSON: writes are atomic
    done_before = set(state["resources"])
    assert "index.help_center" in done_before and SLOW not in done_before
    log_before = runs(project)
    result = cli("apply", SPEC, "-e", "dev")  # the kernel released the killed apply's lock
    assert result.returncode == 0, result.stdout + result.stderr
    rerun = runs(project)[len(log_before) :]
    assert f"start {SLOW}" in rerun
    assert not any(line.endswith(("index.help_center",)) for line in rerun)
    state = json.loads(state_file.read_text())
    assert len(state["resources"]) == 12
    assert all(r["status"] == "complete" for r in state["resources"].values())
    journal = [
        json.loads(x)
        for x in (project / ".llmspec/state/support-bot/dev/journal.jsonl").read_text().splitlines()
    ]
    assert [e["event"] for e in journal] == ["apply-started", "apply-started", "apply-finished"]
    assert cli("plan", SPEC, "-e", "dev", "--detailed-exitcode").returncode == 0


def test_second_apply_fails_clearly_while_the_first_runs(cli, project: Path) -> None:
    first = start_apply(project)
    try:
        wait_for(project, f"start {SLOW}")
        second = cli("apply", SPEC, "-e", "dev")
        assert second.returncode == 1
        assert "LS603" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "running" in second.stderr and "--lock-timeout" in second.stderr
    finally:
        first.kill()
        first.wait(timeout=30)
    state = json.loads((project / ".llmspec/state/support-bot/dev/state.json").read_text())
    assert SLOW not in state["resources"]


def test_second_apply_waits_with_a_lock_timeout(cli, project: Path) -> None:
    first = start_apply(project, slow="package.support-bot")
    env = process_env({"LLMSPEC_FAKE_SLOW_SECONDS": "2"})
    try:
        wait_for(project, "start package.support-bot")
        # the first finishes its slow step after its 60 s, so shorten it: kill, then let a
        # waiting apply take over as soon as the lock is free
        waiter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.engine.runner",
                "apply",
                SPEC,
                "-e",
                "dev",
                "--lock-timeout",
                "60",
            ],
            cwd=project,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting for the lock
        first.kill()
        out, err = waiter.communicate(timeout=120)
        assert waiter.returncode == 0, out + err
        assert "Apply complete" in out
    finally:
        first.kill()
        first.wait(timeout=30)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shared_backend_keeps_a_killed_apply_lock_until_unlocked(
    cli, project: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    url = (
        f"sqlite:///{project / 'state.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    process = start_apply(project, "--state", url)
    wait_for(project, f"start {SLOW}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    blocked = cli("apply", SPEC, "-e", "dev", "--state", url)
    assert blocked.returncode == 1
    assert "LS603" in blocked.stderr and "no longer running" in blocked.stderr
    assert "llmspec state unlock" in blocked.stderr
    released = cli("state", "unlock", SPEC, "-e", "dev", "--state", url)
    assert released.returncode == 0 and f"pid {process.pid}" in released.stdout
    log_before = runs(project)
    done = cli("apply", SPEC, "-e", "dev", "--state", url)
    assert done.returncode == 0, done.stdout + done.stderr
    rerun = runs(project)[len(log_before) :]
    assert f"start {SLOW}" in rerun and "start index.help_center" not in rerun
    assert cli("plan", SPEC, "-e", "dev", "--state", url, "--detailed-exitcode").returncode == 0
    journal = json.loads(
        cli("state", "show", SPEC, "-e", "dev", "--state", url, "--journal", "--json").stdout
    )
    assert "unlock" in [e["event"] for e in journal]
