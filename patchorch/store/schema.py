"""The store's tables (SQLAlchemy Core) and their migrations.

One MetaData; the other modules of the store add their tables to it. The schema is versioned by the Alembic
migrations in `patchorch.store.migrations`; `migrate()` brings any store to the newest revision when it is opened.
"""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from patchorch.errors import StoreError

metadata = MetaData()

# The execution option that marks a store connection as a reader: on SQLite its transactions begin deferred and take
# no write lock (the store's writers begin IMMEDIATE), so a read never queues behind a writer.
READ_ONLY = "patchorch_read_only"


def reader(engine: Engine) -> Connection:
    """A connection for reading: one consistent snapshot per transaction, no write lock."""
    return engine.connect().execution_options(**{READ_ONLY: True})


_MIGRATIONS = Path(__file__).parent / "migrations"
# The revision that matches what patchorch 0.1.0 created without Alembic; such stores are stamped with it.
_RELEASE_REVISION = "0001"
# Key of the PostgreSQL advisory lock that serialises migrations ("patchorc" in ASCII).
_MIGRATION_LOCK = 0x7061746368_6F7263
_LOCKED_ATTEMPTS = 6


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this patchorch knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # the package always ships its migrations
        raise StoreError("patchorch's store migrations are missing")
    return head


def migrate(engine: Engine) -> None:
    """Create or upgrade the store at `engine` to the newest revision, safely when many processes do it at once.

    Everything happens in one transaction that first takes the store's write lock (SQLite: BEGIN IMMEDIATE from the
    engine; PostgreSQL: a transaction-scoped advisory lock), so a second process waits and then finds the store
    already current. A store written by a newer patchorch is refused, not touched.
    """
    for attempt in range(1, _LOCKED_ATTEMPTS + 1):
        try:
            _migrate_once(engine)
            return
        except StoreError as exc:
            # SQLite answers "database is locked" without waiting in a few cases (switching a new file to WAL while
            # another process does the same); the busy timeout covers the rest. Bounded, with a growing pause.
            locked = isinstance(exc.__cause__, OperationalError) and "locked" in str(exc.__cause__)
            if not locked or attempt == _LOCKED_ATTEMPTS:
                raise
            time.sleep(0.05 * 2**attempt)


def _migrate_once(engine: Engine) -> None:
    script = ScriptDirectory.from_config(_config())
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            tables = set(inspect(connection).get_table_names())
            current = None
            if "alembic_version" in tables:
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
                raise StoreError(
                    f"the store at {engine.url!r} was written by a newer patchorch (schema revision {current}, "
                    f"this one knows up to {script.get_current_head()})"
                )
            config = _config(connection)
            if current is None and "runs" in tables:
                command.stamp(config, _RELEASE_REVISION)
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot create or upgrade the store at {engine.url!r}: {exc}") from exc
