"""Progress of an apply or a destroy, as the engine reports it: a hook the caller passes in
(Terraform's `Hook`). The engine calls it; the CLI's terminal view implements it; a Python caller
passes its own or none (nothing is printed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspec.engine.apply import Outcome
    from llmspec.plans.planner import Change


class Hook:
    """Every method does nothing: override the ones you want."""

    def applying(self, app: str, env: str) -> None:
        """An apply of ``app`` in ``env`` begins (before it waits for the lock)."""

    def started(self, change: Change) -> None:
        """A resource's work begins."""

    def finished(self, outcome: Outcome) -> None:
        """A resource is done, reused, deleted, kept, failed or skipped."""

    def log(self, line: str) -> None:
        """A line a step has to say (where its log is, what it trained, …)."""

    def progress(self, done: int, total: int) -> None:
        """A long step's count (chunks embedded, records scored)."""
