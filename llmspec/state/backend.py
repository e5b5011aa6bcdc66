"""The interface every state backend implements, and the errors it raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from llmspec.core.diagnostics import SpecError, error
from llmspec.state.model import AppState, JournalEntry, LockInfo, ResourceState


class StateUnavailable(SpecError):
    """The state backend cannot be used (unreachable database, unsupported URL): a user
    problem with a diagnostic, not a crash."""

    def __init__(self, message: str) -> None:
        super().__init__(
            [
                error(
                    "LS607",
                    message,
                    hint="check `state.url` / --state, and that "
                    "the database accepts connections from here",
                )
            ]
        )


class LockHeld(Exception):
    """Another process holds the lock of this app+env (``holder`` says who)."""

    def __init__(self, holder: LockInfo | None) -> None:
        self.holder = holder
        super().__init__(holder.describe() if holder else "the lock is held")


class StateBackend(Protocol):
    """Where state lives. Every write is atomic: a reader sees the state before or after it,
    never a mixture, and a process killed mid-write leaves the previous state intact."""

    def read(self, app: str, env: str) -> AppState:
        """The app's state in ``env`` (empty, serial 0, when nothing was built yet)."""
        ...

    def put_resource(self, app: str, env: str, resource: ResourceState) -> AppState:
        """Record one resource (replacing its previous record); returns the new state."""
        ...

    def remove_resource(self, app: str, env: str, address: str) -> AppState:
        """Forget one resource; returns the new state."""
        ...

    def append_journal(self, entry: JournalEntry) -> None:
        """Add one entry to the app+env journal; entries are never rewritten."""
        ...

    def journal(self, app: str, env: str) -> list[JournalEntry]:
        """The journal, oldest first."""
        ...

    def lock(self, info: LockInfo, timeout: float = 0.0) -> AbstractContextManager[None]:
        """Hold the app+env lock for the ``with`` block. Waits up to ``timeout`` seconds, then
        raises LockHeld naming the holder."""
        ...

    def lock_holder(self, app: str, env: str) -> LockInfo | None:
        """Who holds the lock now, if anyone."""
        ...

    def unlock(self, app: str, env: str) -> LockInfo | None:
        """Break the lock (an operator's decision); returns who held it."""
        ...

    def list(self) -> Iterator[tuple[str, str, AppState]]:
        """Every (app, env, state) recorded in this backend."""
        ...
