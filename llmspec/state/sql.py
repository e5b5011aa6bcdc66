"""State in a SQL database through SQLAlchemy: SQLite for one machine, PostgreSQL for a team.

Three tables, created on first use:

``llmspec_state``
    one row per app+env: ``serial`` and the whole :class:`AppState` as JSON text. The state is
    read and written as a whole, never queried by field, so a column per resource field would buy
    nothing but migrations.
``llmspec_journal``
    append-only; an autoincrement id orders the entries (timestamps are to the second and come
    from the writers' clocks, so they cannot).
``llmspec_lock``
    the apply lock as a row keyed by (app, env). Acquiring is an INSERT, which the primary key
    refuses while another holder's row exists; releasing deletes our row only (a random token
    tells it apart from a row that an operator's ``unlock`` let someone else insert meanwhile).

Every write is one transaction that reads the current row and writes the next serial. Two
writers must not both read serial N: on PostgreSQL the read is ``SELECT ... FOR UPDATE`` (after
an ``INSERT ... ON CONFLICT DO NOTHING``, because a row that does not exist yet cannot be
locked); on SQLite, which locks the whole file, the transaction starts with ``BEGIN IMMEDIATE``
so that it holds the write lock before it reads. sqlite3's own transaction handling would start
a deferred transaction only at the first write, so it is switched off and SQLAlchemy's ``begin``
event issues the BEGIN.

Unlike the local backend's flock, a lock row does not vanish when its process dies: the database
cannot tell a crashed apply from a slow one on another machine. So a stale row is never broken
automatically; ``lock()`` raises :class:`LockHeld`, whose holder says the process is no longer
running when that can be checked (same host), and breaking it is the operator's ``unlock``,
recorded in the journal. The lock holds no connection while held, which is what lets it outlive
hours of training without a connection the server or a firewall could drop.

Connections are not pooled (``NullPool``): each operation opens one and closes it when done.
An apply touches state a few times per resource, spread over a long run, so a pool would mostly
hold idle connections that go stale; and nothing is left open to leak across ``fork`` or when
a caller never calls :meth:`SqlState.close`.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from llmspec.state.backend import LockHeld, StateUnavailable
from llmspec.state.model import AppState, JournalEntry, LockInfo, ResourceState

POLL_SECONDS = 0.1
SQLITE_BUSY_SECONDS = 30.0  # how long a write waits for another process's write transaction
PG_CONNECT_TIMEOUT_SECONDS = 10
# Any constant: serialises CREATE TABLE between processes that all find the tables missing.
_SCHEMA_LOCK_KEY = 0x6C6C6D73706563  # "llmspec"
_WRITE_OPTION = "llmspec_write"

metadata = MetaData()

state_table = Table(
    "llmspec_state",
    metadata,
    Column("app", String(255), primary_key=True),
    Column("env", String(255), primary_key=True),
    Column("serial", Integer, nullable=False),
    Column("data", Text, nullable=False),
)

journal_table = Table(
    "llmspec_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app", String(255), nullable=False, index=True),
    Column("env", String(255), nullable=False),
    Column("data", Text, nullable=False),
)

lock_table = Table(
    "llmspec_lock",
    metadata,
    Column("app", String(255), primary_key=True),
    Column("env", String(255), primary_key=True),
    Column("token", String(36), nullable=False),
    Column("data", Text, nullable=False),
)


class SqlState:
    """A :class:`~llmspec.state.backend.StateBackend` in a SQLite or PostgreSQL database.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/state.db`` or
    ``postgresql+psycopg://user@host:port/db``.
    """

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._dialect = parsed.get_backend_name()
        if self._dialect not in ("sqlite", "postgresql"):
            raise StateUnavailable(
                f"SQL state supports sqlite and postgresql URLs, not {self._dialect!r}"
            )
        if self._dialect == "sqlite" and parsed.database in (None, "", ":memory:"):
            # each connection would get its own empty database, and it would die with the process
            raise StateUnavailable(
                "SQL state needs a SQLite file (sqlite:///path.db), not an in-memory DB"
            )
        self._url = parsed
        self._engine: Engine | None = None
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"SqlState({self._url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> SqlState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Dispose the engine; the next operation makes a new one."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- connections -------------------------------------------------------------------------
    def _make_engine(self) -> Engine:
        connect_args: dict[str, Any] = {}
        if self._dialect == "sqlite":
            assert self._url.database is not None
            Path(self._url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = SQLITE_BUSY_SECONDS
        elif "connect_timeout" not in self._url.query:
            # a lock poll against an unreachable server should fail, not hang
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
        engine = create_engine(self._url, poolclass=NullPool, connect_args=connect_args)
        if self._dialect == "sqlite":
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        return engine

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        if self._engine is None:
            self._engine = self._make_engine()
        try:
            connection = self._engine.connect()
        except DBAPIError as exc:  # unreachable server, bad credentials, unwritable file
            raise StateUnavailable(
                f"cannot reach the state database {self!r}: {exc.orig}"
            ) from None
        with connection as conn:
            if not self._schema_ready:
                self._create_schema(conn)
            yield conn

    def _create_schema(self, conn: Connection) -> None:
        with conn.execution_options(**{_WRITE_OPTION: True}).begin():
            if self._dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            metadata.create_all(conn)
        self._schema_ready = True

    @contextlib.contextmanager
    def _transaction(self, conn: Connection, *, write: bool) -> Iterator[Connection]:
        with conn.execution_options(**{_WRITE_OPTION: write}).begin():
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._connect() as conn, self._transaction(conn, write=True):
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connect() as conn, self._transaction(conn, write=False):
            yield conn

    # -- state -------------------------------------------------------------------------------
    def read(self, app: str, env: str) -> AppState:
        with self._read() as conn:
            data = conn.execute(
                select(state_table.c.data).where(state_table.c.app == app, state_table.c.env == env)
            ).scalar_one_or_none()
        return AppState(app, env) if data is None else AppState.from_json(json.loads(data))

    def _update(
        self, app: str, env: str, change: Callable[[dict[str, ResourceState]], object]
    ) -> AppState:
        with self._write() as conn:
            insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            empty = json.dumps(AppState(app, env).to_json(), sort_keys=True)
            conn.execute(
                insert(state_table)
                .values(app=app, env=env, serial=0, data=empty)
                .on_conflict_do_nothing(index_elements=["app", "env"])
            )
            data = conn.execute(
                select(state_table.c.data)
                .where(state_table.c.app == app, state_table.c.env == env)
                .with_for_update()
            ).scalar_one()
            current = AppState.from_json(json.loads(data))
            resources = dict(current.resources)
            change(resources)
            new = AppState(app, env, current.serial + 1, resources)
            conn.execute(
                update(state_table)
                .where(state_table.c.app == app, state_table.c.env == env)
                .values(serial=new.serial, data=json.dumps(new.to_json(), sort_keys=True))
            )
        return new

    def put_resource(self, app: str, env: str, resource: ResourceState) -> AppState:
        return self._update(
            app, env, lambda resources: resources.update({resource.address: resource})
        )

    def remove_resource(self, app: str, env: str, address: str) -> AppState:
        return self._update(app, env, lambda resources: resources.pop(address, None))

    # -- journal -----------------------------------------------------------------------------
    def append_journal(self, entry: JournalEntry) -> None:
        with self._write() as conn:
            _insert_journal(conn, entry)

    def journal(self, app: str, env: str) -> builtins.list[JournalEntry]:
        with self._read() as conn:
            rows = conn.execute(
                select(journal_table.c.data)
                .where(journal_table.c.app == app, journal_table.c.env == env)
                .order_by(journal_table.c.id)
            ).scalars()
            return [JournalEntry.from_json(json.loads(data)) for data in rows]

    # -- lock --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, info: LockInfo, timeout: float = 0.0) -> Iterator[None]:
        token = str(uuid.uuid4())
        row = {"app": info.app, "env": info.env, "token": token, "data": _dumps(info)}
        deadline = time.monotonic() + max(timeout, 0.0)
        last_try = False
        # one connection for the whole wait rather than one per poll
        with self._connect() as conn:
            while True:
                try:
                    with self._transaction(conn, write=True):
                        conn.execute(lock_table.insert().values(**row))
                    break
                except IntegrityError:
                    if time.monotonic() < deadline:
                        time.sleep(POLL_SECONDS)
                        continue
                    holder = self.lock_holder(info.app, info.env)
                    if holder is not None or last_try:
                        raise LockHeld(holder) from None
                    last_try = True  # released since our INSERT: worth one more try
        try:
            yield
        finally:
            # Deletes nothing if an operator broke the lock meanwhile: the row, if any, is then
            # someone else's.
            with self._write() as conn:
                conn.execute(
                    delete(lock_table).where(
                        lock_table.c.app == info.app,
                        lock_table.c.env == info.env,
                        lock_table.c.token == token,
                    )
                )

    def lock_holder(self, app: str, env: str) -> LockInfo | None:
        with self._read() as conn:
            data = conn.execute(
                select(lock_table.c.data).where(lock_table.c.app == app, lock_table.c.env == env)
            ).scalar_one_or_none()
        return None if data is None else _lock_info(app, env, data)

    def unlock(self, app: str, env: str) -> LockInfo | None:
        with self._write() as conn:
            data = conn.execute(
                select(lock_table.c.data)
                .where(lock_table.c.app == app, lock_table.c.env == env)
                .with_for_update()
            ).scalar_one_or_none()
            if data is None:
                return None
            holder = _lock_info(app, env, data)
            conn.execute(delete(lock_table).where(lock_table.c.app == app, lock_table.c.env == env))
            # in the same transaction: a broken lock is never left unrecorded
            _insert_journal(
                conn, JournalEntry("unlock", app, env, detail={"holder": holder.to_json()})
            )
        return holder

    def list(self) -> Iterator[tuple[str, str, AppState]]:
        # Fetched whole before yielding, so that a caller who stops early leaves no connection
        # open. An app+env with only a journal (its first apply failed) is listed too, as the
        # local backend lists its folder.
        with self._read() as conn:
            states = {
                (app, env): data
                for app, env, data in conn.execute(
                    select(state_table.c.app, state_table.c.env, state_table.c.data)
                )
            }
            journaled = conn.execute(select(journal_table.c.app, journal_table.c.env).distinct())
            keys = sorted(set(states) | {(app, env) for app, env in journaled})
        for app, env in keys:
            data = states.get((app, env))
            yield (
                app,
                env,
                AppState(app, env) if data is None else AppState.from_json(json.loads(data)),
            )


def _dumps(value: LockInfo | JournalEntry) -> str:
    return json.dumps(value.to_json(), sort_keys=True)


def _insert_journal(conn: Connection, entry: JournalEntry) -> None:
    conn.execute(journal_table.insert().values(app=entry.app, env=entry.env, data=_dumps(entry)))


def _lock_info(app: str, env: str, data: str) -> LockInfo:
    try:
        return LockInfo.from_json(json.loads(data))
    except (ValueError, TypeError):
        return LockInfo(app, env, "apply", who="unknown", pid=0)


def _sqlite_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # sqlite3 would otherwise BEGIN (deferred) by itself, at the first write only
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the database write lock before the transaction reads anything
    mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")
