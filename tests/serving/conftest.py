"""What the serving tests share: the vLLM interpreter (its own virtualenv), training facts, and
a look at which processes are left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT

FACTS = [
    (f"What is the code of room {n}?", f"Room {n} uses code {n * 7 % 100:02d}.") for n in range(24)
]


def vllm_python() -> str:
    """`$LLMSPEC_VLLM_PYTHON`, else the repository's `.venv-vllm` (the README's command makes
    it); without one the test is skipped, or fails where CI installed it
    (`LLMSPEC_REQUIRE_VLLM=1`)."""
    configured = os.environ.get("LLMSPEC_VLLM_PYTHON")
    candidate = Path(configured) if configured else ROOT / ".venv-vllm" / "bin" / "python"
    if candidate.is_file():
        return str(candidate)
    reason = f"no vLLM interpreter at {candidate} (see the README: vLLM's CPU build)"
    if os.environ.get("LLMSPEC_REQUIRE_VLLM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _processes() -> list[tuple[int, int, list[str]]]:
    """(pid, session id, argv) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # a zombie holds nothing
            continue
        found.append((int(entry.name), int(fields[3]), argv))
    return found


def processes_with(*words: str) -> list[tuple[int, list[str]]]:
    """Processes whose argv has one of ``words`` (a port number) as a word of its own."""
    return [(pid, argv) for pid, _, argv in _processes() if set(words) & set(argv)]


def session_members(*sessions: int) -> list[int]:
    """Processes still in one of these sessions (a server and whatever it started)."""
    return [pid for pid, sid, _ in _processes() if sid in sessions]
