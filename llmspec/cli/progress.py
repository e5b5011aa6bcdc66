"""The terminal view of apply's and destroy's progress: one line per resource, and a bar for
long steps when the output is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from llmspec.engine.hooks import Hook

if TYPE_CHECKING:
    from llmspec.engine.apply import Outcome
    from llmspec.plans.planner import Change

MARKS = {"done": "✓", "reused": "✓", "deleted": "✓", "kept": "✓", "failed": "✗", "skipped": "·"}


class TerminalHook(Hook):
    def __init__(self) -> None:
        self._began = time.perf_counter()

    def applying(self, app: str, env: str) -> None:
        print(f"Applying {app} in {env}", flush=True)

    def started(self, change: Change) -> None:
        self._began = time.perf_counter()
        print(f"  … {change.address}: {change.action}", flush=True)

    def finished(self, outcome: Outcome) -> None:
        mark = MARKS[outcome.status]
        said = f"  {mark} {outcome.address}: {outcome.status} ({outcome.seconds:.1f}s)"
        if outcome.status == "failed" and outcome.log:
            said += f"; libraries' output in {outcome.log}"
        print(said, flush=True)

    def log(self, line: str) -> None:
        print(line, flush=True)

    def progress(self, done: int, total: int) -> None:
        """A bar with count and rate, redrawn in place on a terminal; nothing when output goes
        to a file or a CI log."""
        if not sys.stdout.isatty() or total <= 0:
            return
        width = 30
        filled = min(width, width * done // total)
        rate = done / max(time.perf_counter() - self._began, 1e-9)
        end = "\n" if done >= total else ""
        sys.stdout.write(
            f"\r    [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:.0f}/s){end}"
        )
        sys.stdout.flush()
