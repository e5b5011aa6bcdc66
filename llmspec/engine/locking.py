"""The app+env lock every writer of state takes, and the one diagnostic for a held lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmspec.core.diagnostics import SpecError, error
from llmspec.state.backend import LockHeld
from llmspec.state.model import LockInfo

if TYPE_CHECKING:
    from llmspec.engine.workspace import Workspace


@contextmanager
def holding(ws: Workspace, purpose: str, timeout: float) -> Iterator[None]:
    """Hold the app's lock in its environment for ``purpose`` (apply, destroy, rollback, mark
    …), waiting at most ``timeout`` seconds; LS603 naming the holder when it stays taken."""
    try:
        with ws.backend.lock(LockInfo(ws.app, ws.env, purpose), timeout):
            yield
    except LockHeld as exc:
        raise held(exc, ws.app, ws.env) from None


def held(exc: LockHeld, app: str, env: str) -> SpecError:
    """LS603: who holds the lock, and whether breaking it is safe (its holder is gone)."""
    holder = exc.holder
    dead = holder is not None and holder.holder_alive() is False
    return SpecError(
        [
            error(
                "LS603",
                f"`{app}` in `{env}` is locked: "
                + (holder.describe() if holder else "by another process"),
                hint=(
                    "the holder is gone: break the lock with `llmspec state unlock`"
                    if dead
                    else "wait for it to finish, or pass --lock-timeout SECONDS to wait"
                ),
            )
        ]
    )


@dataclass(frozen=True)
class Unlocked:
    """What `state unlock` found: who held the lock (None: nobody), and whether it is still
    held (an OS lock of the local backend belongs to its process until that process ends)."""

    holder: LockInfo | None
    still_held: bool = False


def unlock(ws: Workspace) -> Unlocked:
    """Break the app's lock in its environment (an operator's decision, journaled)."""
    holder = ws.backend.unlock(ws.app, ws.env)
    if holder is None:
        return Unlocked(None)
    return Unlocked(holder, ws.backend.lock_holder(ws.app, ws.env) is not None)
