"""A private PostgreSQL server for the test session, the `store_url` fixture that runs a test on SQLite and on it,
and a PostgreSQL URL where nothing answers.

The server is Debian's PostgreSQL (`scripts/install-postgres.sh`), started by `initdb` + `pg_ctl` in a temporary
directory, listening only on a Unix socket there (no TCP port at all), as the `postgres` user when the tests run as
root (PostgreSQL refuses to run as root). One server per session, one fresh database per test, all removed at the end.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PORT = 5432  # names the socket file inside the private directory; nothing listens on TCP


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL is not installed: run scripts/bootstrap.sh (it runs scripts/install-postgres.sh)")
    return Path(initdb).parent


class PostgresServer:
    """A running private server; `database()` makes a fresh empty database and returns its SQLAlchemy URL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names = itertools.count(1)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this server (psycopg 3 over the Unix socket)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={_PORT}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.root), port=_PORT, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]  # test-made identifiers only

    def database(self) -> str:
        """A new empty database (`drop` it when done; the whole server goes at the end of the session)."""
        name = f"t{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop the database of `url` now, closing whatever still holds it."""
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for the whole session, stopped and deleted at its end."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="patchorch-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-k {root} -p {_PORT} -c listen_addresses='' -c fsync=off -c max_connections=60"
        start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        subprocess.run(
            _as_postgres(start),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"cannot start the test PostgreSQL server: {exc.stderr.decode(errors='replace')}")
    try:
        yield PostgresServer(root)
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store: an SQLite file, then a database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.database()
    yield url
    server.drop(url)


@pytest.fixture
def unreachable_postgres_url() -> str:
    """A PostgreSQL URL with a password, on a port of 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return f"postgresql+psycopg://ops:s3cret-pw@127.0.0.1:{port}/patchorch?connect_timeout=2"
