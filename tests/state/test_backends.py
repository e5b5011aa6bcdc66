"""One contract for every state backend: local files, SQLite, PostgreSQL (a real server) and
S3 (moto's server: locks by conditional writes).

The lock and the no-lost-update tests use other processes (forked), because that is what the
lock and the transactions are for; a process holding the lock is killed with SIGKILL to see
what each backend leaves behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from llmspec.state.backend import LockHeld, StateBackend, StateUnavailable
from llmspec.state.local import LocalState
from llmspec.state.model import AppState, JournalEntry, LockInfo, ResourceState
from llmspec.state.s3 import S3State
from llmspec.state.sql import SqlState

APP, ENV = "demo", "dev"
# fork: children start in milliseconds and need nothing pickled (the tests run on Linux only)
MP = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class Store:
    """Where a backend keeps its state, in a form a child process can open again."""

    kind: str  # "local", "sqlite", "postgresql", "s3"
    where: str  # folder or URL

    @property
    def sql(self) -> bool:
        """A shared backend: its lock outlives a killed holder (a row, an object)."""
        return self.kind != "local"

    def open(self) -> StateBackend:
        if self.kind == "local":
            return LocalState(self.where)
        return S3State(self.where) if self.kind == "s3" else SqlState(self.where)


def _store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if kind == "local":
        return Store("local", str(tmp_path / "state"))
    if kind == "sqlite":
        return Store("sqlite", request.getfixturevalue("sqlite_url"))
    if kind == "s3":
        server = request.getfixturevalue("s3")
        monkeypatch = request.getfixturevalue("monkeypatch")
        for key, value in server.env.items():  # forked children inherit them
            monkeypatch.setenv(key, value)
        return Store("s3", f"s3://{server.bucket}/state-{uuid.uuid4().hex[:12]}")
    return Store("postgresql", request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture(params=["local", "sqlite", "postgresql", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return _store(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return _store(request.param, request, tmp_path)


@pytest.fixture
def backend(store: Store) -> Iterator[StateBackend]:
    opened = store.open()
    yield opened
    if isinstance(opened, SqlState):
        opened.close()


@pytest.fixture
def sql_backend(sql_store: Store) -> Iterator[SqlState]:
    with SqlState(sql_store.where) as opened:
        yield opened


def resource(address: str, n: int = 0) -> ResourceState:
    """A resource with every field set to something other than its default."""
    return ResourceState(
        address=address,
        kind="index",
        inputs_digest=f"sha256:{n:064x}",
        status="complete",
        outputs={"path": f"/out/{address}", "rows": n, "nested": {"ok": True, "list": [1, 2]}},
        config={"chunk_size": 512, "model": "tiny", "unicode": "é✓"},
        files={"data/a.txt": "sha256:aa", "data/b.txt": "sha256:bb"},
        deps={"model.base": "sha256:cc"},
        updated_at="2024-05-01T12:00:00Z",
        env_built="staging",
    )


# -- child processes -------------------------------------------------------------------------
def _hold_lock(store: Store, conn: Connection) -> None:
    backend = store.open()
    with backend.lock(LockInfo(APP, ENV, "apply"), timeout=10):
        conn.send("acquired")
        conn.poll(30)  # until released


def _write(store: Store, worker: int, count: int, locked: bool) -> None:
    backend = store.open()
    for i in range(count):
        address = f"w{worker}.r{i}"
        if locked:
            with backend.lock(LockInfo(APP, ENV, "apply"), timeout=30):
                backend.put_resource(APP, ENV, resource(address, i))
        else:
            backend.put_resource(APP, ENV, resource(address, i))


def _run_writers(store: Store, workers: int, count: int, *, locked: bool) -> None:
    procs = [MP.Process(target=_write, args=(store, w, count, locked)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    assert [proc.exitcode for proc in procs] == [0] * workers


class LockHolder:
    """A child process that takes the lock and keeps it until released (or killed).

    It talks through a pipe: a process killed inside a multiprocessing.Event wait would leave
    the Event's internal counts waiting for it forever."""

    def __init__(self, store: Store) -> None:
        self.conn, child_conn = MP.Pipe()
        self.proc = MP.Process(target=_hold_lock, args=(store, child_conn))

    def __enter__(self) -> LockHolder:
        self.proc.start()
        assert self.conn.poll(10), "the child never got the lock"
        assert self.conn.recv() == "acquired"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.proc.join(10)
        if self.proc.exitcode is None:
            self.proc.kill()
            self.proc.join()

    def release(self) -> None:
        if self.proc.exitcode is None:
            self.conn.send("release")

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.join(10)  # reaped: its pid no longer answers signals
        assert self.proc.exitcode == -signal.SIGKILL


# -- state -----------------------------------------------------------------------------------
def test_empty_read(backend: StateBackend) -> None:
    assert backend.read(APP, ENV) == AppState(APP, ENV, 0, {})
    assert backend.journal(APP, ENV) == []
    assert backend.lock_holder(APP, ENV) is None
    assert list(backend.list()) == []


def test_put_and_remove_bump_serial_and_round_trip(store: Store, backend: StateBackend) -> None:
    first, second = resource("index.docs", 1), resource("model.base", 2)
    assert backend.put_resource(APP, ENV, first) == AppState(APP, ENV, 1, {"index.docs": first})
    state = backend.put_resource(APP, ENV, second)
    assert state.serial == 2 and state.resources == {"index.docs": first, "model.base": second}

    replaced = ResourceState("index.docs", "index", "sha256:new", "failed")
    state = backend.put_resource(APP, ENV, replaced)
    assert state.serial == 3 and state.resources["index.docs"] == replaced

    state = backend.remove_resource(APP, ENV, "index.docs")
    assert state == AppState(APP, ENV, 4, {"model.base": second})
    # forgetting what is not there is still a write
    assert backend.remove_resource(APP, ENV, "missing").serial == 5

    assert backend.read(APP, ENV) == AppState(APP, ENV, 5, {"model.base": second})
    reopened = store.open()  # another instance (and, for SQL, another connection) sees it all
    assert reopened.read(APP, ENV) == AppState(APP, ENV, 5, {"model.base": second})


def test_apps_and_envs_are_separate(backend: StateBackend) -> None:
    backend.put_resource(APP, "dev", resource("a"))
    backend.put_resource(APP, "prod", resource("b"))
    backend.put_resource("other", "dev", resource("c"))
    assert backend.read(APP, "dev").resources.keys() == {"a"}
    assert backend.read(APP, "prod").resources.keys() == {"b"}
    assert backend.read("other", "dev").resources.keys() == {"c"}
    assert backend.read("other", "prod") == AppState("other", "prod")


def test_list(backend: StateBackend) -> None:
    backend.put_resource("b-app", "prod", resource("x"))
    backend.put_resource("a-app", "dev", resource("y"))
    backend.put_resource("a-app", "dev", resource("z"))
    backend.append_journal(JournalEntry("apply-started", "c-app", "dev"))
    backend.append_journal(JournalEntry("apply-started", "a-app", "dev"))
    listed = list(backend.list())
    assert [(app, env) for app, env, _ in listed] == [
        ("a-app", "dev"),
        ("b-app", "prod"),
        ("c-app", "dev"),  # a journal but no state yet: listed, empty
    ]
    states = {(app, env): state for app, env, state in listed}
    assert states["a-app", "dev"] == backend.read("a-app", "dev")
    assert states["a-app", "dev"].serial == 2
    assert states["c-app", "dev"] == AppState("c-app", "dev")


# -- journal ---------------------------------------------------------------------------------
def test_journal_is_append_only_oldest_first(backend: StateBackend) -> None:
    entries = [
        JournalEntry("apply-started", APP, ENV, at="2024-05-01T12:00:00Z", git_commit="abc"),
        JournalEntry(
            "apply-finished",
            APP,
            ENV,
            at="2024-05-01T12:00:00Z",  # same second: order is the order of appends
            who="ci",
            host="runner-1",
            pid=4242,
            git_commit="abc",
            plan_digest="sha256:dd",
            result="ok",
            detail={"changed": ["index.docs"], "seconds": 1.5},
        ),
        JournalEntry("destroy-finished", APP, ENV, result="failed"),
    ]
    for entry in entries:
        backend.append_journal(entry)
    backend.append_journal(JournalEntry("apply-started", APP, "prod"))
    assert backend.journal(APP, ENV) == entries
    assert [e.event for e in backend.journal(APP, "prod")] == ["apply-started"]

    later = JournalEntry("apply-started", APP, ENV, result="interrupted")
    backend.append_journal(later)
    assert backend.journal(APP, ENV) == [*entries, later]


# -- lock ------------------------------------------------------------------------------------
def test_lock_holder_and_second_holder_refused(backend: StateBackend) -> None:
    info = LockInfo(APP, ENV, "destroy", who="alice")
    with backend.lock(info):
        assert backend.lock_holder(APP, ENV) == info
        with pytest.raises(LockHeld) as raised, backend.lock(LockInfo(APP, ENV, "apply")):
            pass
        assert raised.value.holder == info
        assert "destroy by alice" in str(raised.value) and "running" in str(raised.value)
        # another app+env has its own lock
        with backend.lock(LockInfo(APP, "prod", "apply")):
            pass
    assert backend.lock_holder(APP, ENV) is None
    with backend.lock(LockInfo(APP, ENV, "apply")):
        pass


def test_lock_released_when_the_block_raises(backend: StateBackend) -> None:
    with pytest.raises(RuntimeError), backend.lock(LockInfo(APP, ENV, "apply")):
        raise RuntimeError("apply failed")
    assert backend.lock_holder(APP, ENV) is None
    with backend.lock(LockInfo(APP, ENV, "apply")):
        pass


def test_lock_excludes_another_process_and_a_waiter_gets_it(
    store: Store, backend: StateBackend
) -> None:
    with LockHolder(store) as holder:
        with pytest.raises(LockHeld) as raised, backend.lock(LockInfo(APP, ENV, "apply")):
            pass
        assert raised.value.holder is not None
        assert raised.value.holder.pid == holder.pid
        assert f"(pid {holder.pid} on " in str(raised.value)
        assert "running" in raised.value.holder.describe()
        assert backend.lock_holder(APP, ENV) == raised.value.holder

        start = time.monotonic()
        with pytest.raises(LockHeld):
            backend.lock(LockInfo(APP, ENV, "apply"), timeout=0.3).__enter__()
        assert time.monotonic() - start >= 0.3  # it did wait its timeout out

        threading.Timer(0.3, holder.release).start()
        start = time.monotonic()
        waiter = LockInfo(APP, ENV, "apply", who="waiter")
        with backend.lock(waiter, timeout=10):
            waited = time.monotonic() - start
            assert backend.lock_holder(APP, ENV) == waiter
    assert 0.2 <= waited < 5
    assert backend.lock_holder(APP, ENV) is None


def test_lock_of_a_killed_process(store: Store, backend: StateBackend) -> None:
    holder = LockHolder(store)
    with holder:
        holder.kill()

    if not store.sql:
        # flock: the kernel released it with the process
        assert backend.lock_holder(APP, ENV) is None
        with backend.lock(LockInfo(APP, ENV, "apply")):
            pass
        return

    # a lock row outlives its process; it is reported, never broken automatically
    with pytest.raises(LockHeld) as raised, backend.lock(LockInfo(APP, ENV, "apply")):
        pass
    dead = raised.value.holder
    assert dead is not None and dead.pid == holder.pid
    assert "no longer running" in dead.describe()
    assert "no longer running" in str(raised.value)
    assert backend.lock_holder(APP, ENV) == dead

    assert backend.unlock(APP, ENV) == dead
    broken = backend.journal(APP, ENV)[-1]
    assert broken.event == "unlock" and broken.pid == os.getpid()
    assert broken.detail == {"holder": dead.to_json()}
    assert backend.lock_holder(APP, ENV) is None
    with backend.lock(LockInfo(APP, ENV, "apply")):
        pass


def test_unlock_when_free(backend: StateBackend) -> None:
    assert backend.unlock(APP, ENV) is None
    assert backend.journal(APP, ENV) == []


def test_unlock_breaks_a_live_sql_lock(sql_backend: SqlState) -> None:
    """Breaking is the operator's call: it does not check whether the holder still runs, and
    the old holder leaving its block later leaves the new holder's lock alone."""
    first = LockInfo(APP, ENV, "apply", who="first")
    second = LockInfo(APP, ENV, "apply", who="second")
    first_lock = sql_backend.lock(first)
    first_lock.__enter__()
    assert sql_backend.unlock(APP, ENV) == first
    with sql_backend.lock(second):
        first_lock.__exit__(None, None, None)
        assert sql_backend.lock_holder(APP, ENV) == second
    assert sql_backend.lock_holder(APP, ENV) is None
    [entry] = sql_backend.journal(APP, ENV)
    assert entry.event == "unlock" and entry.detail == {"holder": first.to_json()}


# -- concurrency -----------------------------------------------------------------------------
def test_concurrent_writers_under_the_lock(store: Store, backend: StateBackend) -> None:
    _run_writers(store, workers=4, count=5, locked=True)
    state = backend.read(APP, ENV)
    assert state.serial == 20
    assert state.resources.keys() == {f"w{w}.r{i}" for w in range(4) for i in range(5)}
    assert backend.lock_holder(APP, ENV) is None


def test_concurrent_writers_lose_no_update(sql_store: Store) -> None:
    """Without the apply lock, each SQL write is still one serialised read-modify-write.
    (The local backend relies on the apply lock for this: its writes replace the file.)
    The tables do not exist yet, so the writers also race to create them."""
    _run_writers(sql_store, workers=4, count=25, locked=False)
    state = sql_store.open().read(APP, ENV)
    assert state.resources.keys() == {f"w{w}.r{i}" for w in range(4) for i in range(25)}
    assert state.serial == 100
    assert state.resources["w3.r7"] == resource("w3.r7", 7)


# -- SQL only --------------------------------------------------------------------------------
def _open_connections(store: Store, backend: SqlState) -> int:
    if store.kind == "sqlite":
        db = os.path.realpath(store.where.removeprefix("sqlite:///"))
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(FileNotFoundError):  # the fd listdir itself used
                count += os.readlink(f"/proc/self/fd/{fd}").startswith(db)
        return count
    import psycopg

    with psycopg.connect(store.where.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_no_connection_left_open(sql_store: Store) -> None:
    backend = SqlState(sql_store.where)
    backend.put_resource(APP, ENV, resource("a"))
    backend.append_journal(JournalEntry("apply-started", APP, ENV))
    with backend.lock(LockInfo(APP, ENV, "apply")):
        assert _open_connections(sql_store, backend) == 0  # a held lock holds no connection
        with pytest.raises(LockHeld):
            backend.lock(LockInfo(APP, ENV, "apply"), timeout=0.2).__enter__()
    for _ in backend.list():
        break  # a caller that stops early
    backend.read(APP, ENV)
    backend.journal(APP, ENV)
    backend.unlock(APP, ENV)
    assert _open_connections(sql_store, backend) == 0
    backend.close()
    with SqlState(sql_store.where) as again:
        assert again.read(APP, ENV).serial == 1
    assert _open_connections(sql_store, backend) == 0


def test_sql_urls(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "state.db"
    with SqlState(f"sqlite:///{nested}") as backend:
        backend.put_resource(APP, ENV, resource("x"))
    assert nested.is_file()
    for url in ("sqlite://", "sqlite:///:memory:", "mysql://u@h/db"):
        with pytest.raises(StateUnavailable) as info:
            SqlState(url)
        assert info.value.diagnostics[0].code == "LS607"
    with pytest.raises(StateUnavailable):  # nothing listens on port 1
        SqlState("postgresql+psycopg://u@127.0.0.1:1/db").read(APP, ENV)
    assert "secret" not in repr(SqlState("postgresql+psycopg://u:secret@h/db"))
