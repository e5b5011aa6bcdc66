"""Start the training entrypoint under `accelerate launch` and follow it.

The child writes ``@@llmspec {json}`` events on stdout (progress, an error the user can fix,
the result); everything else it prints goes to ``train.log`` in the work folder, whose tail is
shown when training fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENT = "@@llmspec "  # the prefix llmspec.runtime.train writes its events with


@dataclass
class Launched:
    returncode: int
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    tail: list[str] = field(default_factory=list)


def command(config: Path, job: Path, output: Path, extra: Sequence[str] = ()) -> list[str]:
    """`accelerate launch` of the entrypoint, with this interpreter (its environment)."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "-m",
        "llmspec.runtime.train",
        str(job),
        "--output",
        str(output),
        *extra,
    ]


def launch(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log_file: Path,
    on_event: Callable[[dict[str, Any]], None],
) -> Launched:
    outcome = Launched(0)
    tail: deque[str] = deque(maxlen=25)
    with open(log_file, "a", encoding="utf-8") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its workers are stopped with it
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(EVENT):
                    event = json.loads(line[len(EVENT) :])
                    if event["event"] == "done":
                        outcome.result = event
                    elif event["event"] == "error":
                        outcome.error = event
                    on_event(event)
                    continue
                log.write(line)
                if line.strip():
                    tail.append(line.rstrip())
            outcome.returncode = process.wait()
        except BaseException:  # interrupted: stop the whole launch, keep its checkpoints
            _stop(process)
            raise
    outcome.tail = list(tail)
    return outcome


def _stop(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
