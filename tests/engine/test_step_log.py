"""A step's library output goes to its log file: Python warnings, logging handlers on stderr and
stdout, and native writes to descriptor 2; llmspec's own prints stay on stdout, and a failed
step's progress line names the log."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import pytest

from llmspec.cli.progress import TerminalHook
from llmspec.engine.apply import Outcome
from llmspec.engine.step_log import step_log_path, to_step_log


def test_library_output_goes_to_the_log_and_llmspecs_stays(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    chatty = logging.getLogger("somelib.sub")
    to_stdout = logging.StreamHandler(sys.stdout)
    chatty.addHandler(to_stdout)
    chatty.addHandler(logging.StreamHandler(sys.stderr))
    chatty.setLevel(logging.INFO)
    path = step_log_path(tmp_path / ".llmspec", "app", "dev", "package.app")
    try:
        with to_step_log(path, "package.app"):
            print("    llmspec's own progress", flush=True)
            warnings.warn("Failed to infer signature from type hint", UserWarning, stacklevel=1)
            chatty.info("a library's log line")
            os.write(2, b"[2026-12-02 03:21:06,123 I 1 1] core_worker.cc: native\n")
        assert to_stdout.stream is sys.stdout  # put back
    finally:
        chatty.handlers.clear()
    out, err = capfd.readouterr()
    assert out == "    llmspec's own progress\n" and err == ""
    log = path.read_text()
    assert log.startswith("==> package.app at ")
    assert "UserWarning: Failed to infer signature" in log
    assert log.count("a library's log line") == 2 and "core_worker.cc: native" in log
    with to_step_log(path, "package.app"):  # a second apply appends under its own header
        pass
    assert path.read_text().count("==> package.app at ") == 2


def test_a_failed_steps_progress_line_names_its_log(capsys: pytest.CaptureFixture[str]) -> None:
    log = ".llmspec/logs/app/dev/package.app.log"
    TerminalHook().finished(Outcome("package.app", "create", "failed", 1.0, [], log))
    TerminalHook().finished(Outcome("eval.app", "create", "done", 1.0, [], log))
    failed, done = capsys.readouterr().out.splitlines()
    assert failed.endswith(f"; libraries' output in {log}") and log not in done
