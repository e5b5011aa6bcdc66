"""State in local files: ``<root>/<app>/<env>/state.json``, ``journal.jsonl`` and ``lock``.

state.json is replaced atomically (write a temp file, fsync, rename), so a process killed at any
point leaves the previous complete file. The lock is an OS lock (flock) on the lock file: the
kernel releases it when its process dies, so a killed apply never leaves a stale lock here; the
file also names the holder, for the diagnostic a waiting apply prints.

Writes read-modify-replace state.json, so they rely on that lock: apply and destroy write only
while holding it (the SQL backend, shared by machines, serialises writes in the database).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from llmspec.state.backend import LockHeld
from llmspec.state.model import AppState, JournalEntry, LockInfo, ResourceState

POLL_SECONDS = 0.1


class LocalState:
    """A :class:`~llmspec.state.backend.StateBackend` in a folder (default `.llmspec/state`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalState({str(self.root)!r})"

    def _dir(self, app: str, env: str) -> Path:
        return self.root / app / env

    # -- state -------------------------------------------------------------------------------
    def read(self, app: str, env: str) -> AppState:
        path = self._dir(app, env) / "state.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return AppState(app, env)
        return AppState.from_json(data)

    def _write(self, state: AppState) -> AppState:
        folder = self._dir(state.app, state.env)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "state.json", json.dumps(state.to_json(), indent=2, sort_keys=True))
        return state

    def put_resource(self, app: str, env: str, resource: ResourceState) -> AppState:
        current = self.read(app, env)
        resources = {**current.resources, resource.address: resource}
        return self._write(AppState(app, env, current.serial + 1, resources))

    def remove_resource(self, app: str, env: str, address: str) -> AppState:
        current = self.read(app, env)
        resources = {a: r for a, r in current.resources.items() if a != address}
        return self._write(AppState(app, env, current.serial + 1, resources))

    # -- journal -----------------------------------------------------------------------------
    def append_journal(self, entry: JournalEntry) -> None:
        folder = self._dir(entry.app, entry.env)
        folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry.to_json(), sort_keys=True) + "\n"
        # O_APPEND writes of one line are not interleaved; fsync makes the line durable
        fd = os.open(folder / "journal.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def journal(self, app: str, env: str) -> list[JournalEntry]:
        path = self._dir(app, env) / "journal.jsonl"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(JournalEntry.from_json(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash mid-write
        return entries

    # -- lock --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, info: LockInfo, timeout: float = 0.0) -> Iterator[None]:
        folder = self._dir(info.app, info.env)
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "lock", "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            _acquire(handle, timeout, lambda: self.lock_holder(info.app, info.env))
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(info.to_json()))
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()

    def lock_holder(self, app: str, env: str) -> LockInfo | None:
        path = self._dir(app, env) / "lock"
        if not path.exists():
            return None
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = Path(path).read_text(encoding="utf-8")
                try:
                    return LockInfo.from_json(json.loads(text))
                except (ValueError, TypeError):
                    return LockInfo(app, env, "apply", who="unknown", pid=0)
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def unlock(self, app: str, env: str) -> LockInfo | None:
        # An OS lock dies with its process, and a live holder must not lose it under its feet:
        # breaking only reports who holds it.
        return self.lock_holder(app, env)

    def list(self) -> Iterator[tuple[str, str, AppState]]:
        if not self.root.is_dir():
            return
        for app_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for env_dir in sorted(p for p in app_dir.iterdir() if p.is_dir()):
                yield app_dir.name, env_dir.name, self.read(app_dir.name, env_dir.name)


def _acquire(handle: IO[str], timeout: float, holder: object) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockHeld(holder()) from None  # type: ignore[operator]
            time.sleep(POLL_SECONDS)


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same folder, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
