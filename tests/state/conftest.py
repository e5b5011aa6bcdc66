"""Fixtures for the state backends: a SQLite URL, and a real PostgreSQL server for the session.

The server is started from the installed PostgreSQL binaries in a temporary data directory,
listening on 127.0.0.1 only, with ``trust`` authentication, and stopped at the end. initdb
refuses to run as root, so as root the server runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_POSTGRES = os.environ.get("LLMSPEC_REQUIRE_POSTGRES") == "1"
PG_USER = "postgres"
PG_DATABASE = "llmspec"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def postgres_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: pg_config's, else the newest Debian one."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_user() -> dict[str, Any]:
    """subprocess arguments that run a command as the server's OS user (as root: postgres)."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
    entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_user = _server_user()
        self.base = Path(tempfile.mkdtemp(prefix="llmspec-pg-"))
        if self.as_user:
            os.chown(self.base, self.as_user["user"], self.as_user["group"])
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0

    def _run(self, *args: str | Path) -> None:
        env = {**os.environ, "LC_ALL": "C", "HOME": str(self.base)}
        result = subprocess.run(
            [str(a) for a in args],
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            **self.as_user,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{log}"
            )

    def start(self) -> None:
        self._run(
            self.bindir / "initdb", "-D", self.data, "-U", PG_USER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        # durability settings off: the data dir is thrown away
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.base}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(settings)
        for attempt in range(3):  # another process may take the free port before the server
            self.port = _free_port()
            try:
                self._run(
                    self.bindir / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                    "-o", f"-p {self.port}", "start",
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.admin(f'CREATE DATABASE "{PG_DATABASE}"')

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE cannot run in one)."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(statement)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            if (self.data / "postmaster.pid").exists():
                self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, skipped (or failed, with
    LLMSPEC_REQUIRE_POSTGRES=1) when the server binaries are not installed."""
    bindir = postgres_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL server binaries not found (no initdb/pg_ctl/postgres via pg_config "
            "--bindir or /usr/lib/postgresql/*/bin); install e.g. the Debian package postgresql"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(f"LLMSPEC_REQUIRE_POSTGRES=1: {reason}")
        pytest.skip(reason)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of the session's database on the PostgreSQL server."""
    return postgres_server.url(PG_DATABASE)


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of an empty database, for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.admin(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    postgres_server.admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a SQLite file in the test's temporary folder (created on first use)."""
    return f"sqlite:///{tmp_path / 'state.db'}"
