"""The servers `llmspec serve` starts, as processes: a port free before one starts, waiting
until its health route answers, and stopping its whole process group."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from llmspec.core.diagnostics import SpecError, error


def wait_healthy(
    process: subprocess.Popen[bytes], url: str, timeout: float, log: Path, what: str
) -> None:
    """Until ``url`` answers 200; LS810 with the end of ``log`` when the process exits or the
    time runs out (the process is then stopped)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if healthy(url):
                return
            time.sleep(0.5)
    except BaseException:  # interrupted while it starts
        stop_process(process)
        raise
    stop_process(process)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    said = "exited" if process.returncode is not None else f"was not healthy after {timeout:.0f} s"
    raise SpecError([error("LS810", f"{what} {said} ({url})", hint=f"the end of {log}:\n{tail}")])


def port_free_or_raise(host: str, port: int, what: str) -> None:
    """LS810 before starting a server on a port another process holds."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SpecError(
                [
                    error(
                        "LS810",
                        f"{what} cannot listen on {host}:{port}: {exc.strerror}",
                        hint="stop what holds the port, or choose another one",
                    )
                ]
            ) from None


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group, SIGKILL after 15 s."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # what the group started and left behind
        os.killpg(process.pid, signal.SIGKILL)


def healthy(url: str) -> bool:
    """``url`` (a health route) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
