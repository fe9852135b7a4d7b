"""What `advisories sync` remembers between runs: each sync, the validators and stamps of every resource it fetched,
and which advisories each sync added or updated.

A resource (a listing or a document) is recorded only after what it carried was stored, so a sync that fails half-way
loses nothing: the next one fetches whatever was not recorded. `changed_since(N)` answers `exposure --new-since N`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from patchorch.errors import StoreError
from patchorch.store.advisories import ImportOutcome, ImportStatus, UtcDateTime, fact_hosts_table
from patchorch.store.schema import metadata, migrate, reader

sync_runs_table = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("status", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("notified_at", UtcDateTime),
)

sync_resources_table = Table(
    "sync_resources",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("url", String(2000), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("stamp", Text),
    Column("sha256", String(64)),
    Column("sync_id", Integer, ForeignKey("sync_runs.id"), nullable=False),
    Column("synced_at", UtcDateTime, nullable=False),
)

sync_changes_table = Table(
    "sync_changes",
    metadata,
    Column("sync_id", Integer, ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("advisory_id", String(200), primary_key=True),
    Column("status", String(10), nullable=False),
)


class ResourceState(BaseModel):
    """What the last successful fetch of a URL said: validators for a conditional GET, the listing's stamp, digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    etag: str | None = None
    last_modified: str | None = None
    stamp: str | None = None
    sha256: str | None = None


class SyncRun(BaseModel):
    """One recorded sync: when, how it ended and its per-source summary (JSON data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: dict[str, Any]
    notified_at: datetime | None = None


class SyncStore:
    """Sync runs, resource state and per-sync advisory changes in the store's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_tables(self) -> None:
        """Bring the store's schema, these tables included, to the newest revision (see `schema.migrate`)."""
        migrate(self._engine)

    def start(self, now: datetime) -> int:
        """Record a sync as running; its id."""
        with self._write("start a sync") as connection:
            result = connection.execute(insert(sync_runs_table).values(started_at=now, status="running", summary="{}"))
            key = result.inserted_primary_key
            if key is None:
                raise StoreError("cannot start a sync: the database returned no id")
            return int(key[0])

    def finish(self, sync_id: int, now: datetime, status: str, summary: dict[str, Any]) -> None:
        """Record how a sync ended and its summary."""
        with self._write("finish a sync") as connection:
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.id == sync_id)
                .values(finished_at=now, status=status, summary=json.dumps(summary, sort_keys=True))
            )

    def resources(self, source: str) -> dict[str, ResourceState]:
        """Every recorded resource of a source, by URL (loaded once per sync of the source)."""
        query = select(sync_resources_table).where(sync_resources_table.c.source == source)
        return {
            row.url: ResourceState(etag=row.etag, last_modified=row.last_modified, stamp=row.stamp, sha256=row.sha256)
            for row in self._read(query)
        }

    def record_resource(self, source: str, url: str, state: ResourceState, *, sync_id: int, now: datetime) -> None:
        """Remember what this sync fetched (or found unchanged) at `url`."""
        with self._write(f"record {url}") as connection:
            self._upsert(connection, source, url, state, sync_id=sync_id, now=now)

    @staticmethod
    def _upsert(
        connection: Connection, source: str, url: str, state: ResourceState, *, sync_id: int, now: datetime
    ) -> None:
        values = {**state.model_dump(), "sync_id": sync_id, "synced_at": now}
        key = (sync_resources_table.c.source == source) & (sync_resources_table.c.url == url)
        if connection.execute(select(sync_resources_table.c.url).where(key)).first() is None:
            connection.execute(insert(sync_resources_table).values(source=source, url=url, **values))
        else:
            connection.execute(update(sync_resources_table).where(key).values(**values))

    def forget_resource(self, source: str, url: str) -> None:
        """Drop what was recorded for `url`, so the next sync fetches it whole (its listing had a failure)."""
        key = (sync_resources_table.c.source == source) & (sync_resources_table.c.url == url)
        with self._write(f"forget {url}") as connection:
            connection.execute(delete(sync_resources_table).where(key))

    def record_document(
        self,
        source: str,
        url: str,
        state: ResourceState,
        outcomes: Iterable[ImportOutcome],
        *,
        sync_id: int,
        now: datetime,
    ) -> None:
        """In one transaction: the advisories the document added or updated in this sync, and the document as synced."""
        changed = {o.id: o.status.value for o in outcomes if o.status in (ImportStatus.ADDED, ImportStatus.UPDATED)}
        with self._write(f"record {url}") as connection:
            if changed:
                known = {
                    row.advisory_id
                    for row in connection.execute(
                        select(sync_changes_table.c.advisory_id).where(
                            (sync_changes_table.c.sync_id == sync_id)
                            & sync_changes_table.c.advisory_id.in_(list(changed))
                        )
                    )
                }
                rows = [
                    {"sync_id": sync_id, "advisory_id": advisory, "status": status}
                    for advisory, status in changed.items()
                    if advisory not in known
                ]
                if rows:
                    connection.execute(insert(sync_changes_table), rows)
            self._upsert(connection, source, url, state, sync_id=sync_id, now=now)

    def changed_since(self, sync_id: int) -> dict[str, str]:
        """Advisory id -> 'added' or 'updated' for every advisory a later sync than `sync_id` stored."""
        query = (
            select(sync_changes_table.c.advisory_id, sync_changes_table.c.status)
            .where(sync_changes_table.c.sync_id > sync_id)
            .order_by(sync_changes_table.c.sync_id)
        )
        result: dict[str, str] = {}
        for row in self._read(query):
            result.setdefault(row.advisory_id, row.status)
        return result

    def runs(self) -> tuple[SyncRun, ...]:
        """Every recorded sync, oldest first."""
        return tuple(
            SyncRun(
                id=row.id,
                started_at=row.started_at,
                finished_at=row.finished_at,
                status=row.status,
                summary=json.loads(row.summary),
                notified_at=row.notified_at,
            )
            for row in self._read(select(sync_runs_table).order_by(sync_runs_table.c.id))
        )

    def mark_notified(self, up_to: int, now: datetime) -> None:
        """Record that the owners were told what every sync up to `up_to` brought."""
        with self._write("record the notification") as connection:
            connection.execute(
                update(sync_runs_table)
                .where((sync_runs_table.c.id <= up_to) & sync_runs_table.c.notified_at.is_(None))
                .values(notified_at=now)
            )

    def fact_families(self) -> set[str]:
        """The distribution families the stored package facts report (which OSV ecosystems the fleet needs)."""
        return {row.os_family for row in self._read(select(fact_hosts_table.c.os_family).distinct())}

    def _read(self, query: Any) -> list[Any]:
        try:
            with reader(self._engine) as connection:
                return list(connection.execute(query))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the sync state: {exc}") from exc

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot {what}: {exc}") from exc
