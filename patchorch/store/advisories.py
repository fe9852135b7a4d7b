"""Stored advisories and package facts: tables on the shared `metadata` and the `AdvisoryStore` repository.

Importing is idempotent: an advisory is keyed by its ID, the same revision imported twice is one advisory, a newer
revision (by `Advisory.revision_key`) supersedes the stored one, an older one is ignored, and a different document
claiming the same revision is reported as a conflict and not stored. Package facts are kept per host with the time they
were gathered, replacing the host's previous facts.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from patchorch.domain.advisory import Advisory, OsRelease, PackageFact, PackageInstall, installs
from patchorch.errors import StoreError
from patchorch.store.schema import metadata, migrate, reader


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone: stored as naive UTC, read back as UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


advisories_table = Table(
    "advisories",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source", String(10), nullable=False),
    Column("revision", String(200), nullable=False),
    Column("revision_key", String(400), nullable=False),
    Column("title", Text, nullable=False),
    Column("document_hash", String(64), nullable=False),
    Column("document_path", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)

advisory_packages_table = Table(
    "advisory_packages",
    metadata,
    Column("advisory_id", String(200), ForeignKey("advisories.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("ecosystem", String(10), nullable=False),
    Column("distro", String(200)),
    Column("name", String(200), nullable=False),
    Column("fixed", Text, nullable=False),
    Index("ix_advisory_packages_name", "ecosystem", "name"),
)

fact_hosts_table = Table(
    "fact_hosts",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("os_family", String(100), nullable=False),
    Column("os_version", String(50), nullable=False),
    Column("os_release", String(50), nullable=False),
    Column("manager", String(10)),
    Column("os_cpe", String(200)),
    Column("os_cpe_source", String(20)),
    Column("package_count", Integer, nullable=False),
    Column("gathered_at", UtcDateTime, nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
)

fact_packages_table = Table(
    "fact_packages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), ForeignKey("fact_hosts.host", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("arch", String(50)),
    Column("source", String(200)),
    Index("ix_fact_packages_host", "host"),
)


class ImportStatus(StrEnum):
    """What importing one advisory did."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    OLDER = "older"
    CONFLICT = "conflict"


class ImportOutcome(BaseModel):
    """One advisory of an import: its ID, what happened, the revision offered and the one stored before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    status: ImportStatus
    revision: str
    previous_revision: str | None = None
    path: str = ""
    reason: str = ""


class StoredAdvisory(BaseModel):
    """An advisory as stored, with where it came from and when it was imported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    advisory: Advisory
    document_hash: str
    document_path: str
    imported_at: datetime


def _key_text(key: tuple[int, ...]) -> str:
    return json.dumps(list(key))


def _key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in json.loads(text))


class AdvisoryStore:
    """Advisories and package facts in the store's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_tables(self) -> None:
        """Bring the store's schema, these tables included, to the newest revision (see `schema.migrate`)."""
        migrate(self._engine)

    def import_(
        self,
        advisories: Iterable[Advisory],
        *,
        document_hash: str,
        document_path: str,
        imported_at: datetime,
    ) -> tuple[ImportOutcome, ...]:
        """Store the advisories of one document in one transaction; the outcome of each, in order."""
        outcomes = []
        try:
            with self._engine.begin() as connection:
                for advisory in advisories:
                    row = connection.execute(
                        select(
                            advisories_table.c.source,
                            advisories_table.c.revision,
                            advisories_table.c.revision_key,
                            advisories_table.c.body,
                        ).where(advisories_table.c.id == advisory.id)
                    ).first()
                    values: dict[str, Any] = {
                        "source": advisory.source.value,
                        "revision": advisory.revision,
                        "revision_key": _key_text(advisory.revision_key),
                        "title": advisory.title,
                        "document_hash": document_hash,
                        "document_path": document_path,
                        "body": advisory.model_dump_json(),
                        "imported_at": imported_at,
                    }
                    reason = ""
                    if row is None:
                        connection.execute(insert(advisories_table).values(id=advisory.id, **values))
                        self._write_packages(connection, advisory)
                        status, previous = ImportStatus.ADDED, None
                    elif row.source != advisory.source.value:
                        # An OSV record named `KEV:CVE-...` must not replace the KEV entry (or the reverse).
                        status, previous = ImportStatus.CONFLICT, row.revision
                        reason = f"the ID belongs to a stored {row.source} advisory"
                    else:
                        previous = row.revision
                        stored = Advisory.model_validate_json(row.body)
                        stored_key = _key(row.revision_key)
                        if advisory.revision_key < stored_key:
                            status = ImportStatus.OLDER
                        elif advisory.revision_key == stored_key:
                            status = ImportStatus.UNCHANGED if stored == advisory else ImportStatus.CONFLICT
                        else:
                            same = stored.same_content(advisory)
                            status = ImportStatus.UNCHANGED if same else ImportStatus.UPDATED
                            connection.execute(
                                update(advisories_table).where(advisories_table.c.id == advisory.id).values(**values)
                            )
                            connection.execute(
                                delete(advisory_packages_table).where(
                                    advisory_packages_table.c.advisory_id == advisory.id
                                )
                            )
                            self._write_packages(connection, advisory)
                    outcomes.append(
                        ImportOutcome(
                            id=advisory.id,
                            status=status,
                            revision=advisory.revision,
                            previous_revision=previous,
                            path=document_path,
                            reason=reason,
                        )
                    )
        except (SQLAlchemyError, ValidationError) as exc:
            raise StoreError(f"cannot store advisories from {document_path}: {exc}") from exc
        return tuple(outcomes)

    @staticmethod
    def _write_packages(connection: Any, advisory: Advisory) -> None:
        rows = [
            {
                "advisory_id": advisory.id,
                "position": position,
                "ecosystem": package.ecosystem.value,
                "distro": package.distro,
                "name": package.name,
                "fixed": " ".join(package.fixed_versions),
            }
            for position, package in enumerate(advisory.affected)
        ]
        if rows:
            connection.execute(insert(advisory_packages_table), rows)

    def list(self) -> tuple[StoredAdvisory, ...]:
        """Every stored advisory, sorted by ID."""
        query = select(advisories_table).order_by(advisories_table.c.id)
        return tuple(self._stored(row) for row in self._rows(query))

    def get(self, advisory_id: str) -> StoredAdvisory | None:
        """The stored advisory with this ID, or None."""
        rows = self._rows(select(advisories_table).where(advisories_table.c.id == advisory_id))
        return self._stored(rows[0]) if rows else None

    def _rows(self, query: Any) -> Sequence[Any]:
        try:
            with reader(self._engine) as connection:
                return list(connection.execute(query))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read advisories: {exc}") from exc

    @staticmethod
    def _stored(row: Any) -> StoredAdvisory:
        try:
            advisory = Advisory.model_validate_json(row.body)
        except ValidationError as exc:
            raise StoreError(f"stored advisory {row.id} does not validate: {exc}") from exc
        return StoredAdvisory(
            advisory=advisory,
            document_hash=row.document_hash,
            document_path=row.document_path,
            imported_at=row.imported_at,
        )

    def save_facts(
        self,
        host: str,
        packages: Iterable[PackageFact],
        os: OsRelease,
        gathered_at: datetime,
        *,
        saved_at: datetime | None = None,
    ) -> None:
        """Replace the package facts of `host` with `packages`, gathered at `gathered_at` from a host running `os`."""
        rows = [
            {"host": host, "name": p.name, "version": p.version, "arch": p.arch, "source": p.source} for p in packages
        ]
        values = {
            "os_family": os.family,
            "os_version": os.version,
            "os_release": os.release,
            "manager": os.manager,
            "os_cpe": os.cpe,
            "os_cpe_source": os.cpe_source,
            "package_count": len(rows),
            "gathered_at": gathered_at,
            "saved_at": saved_at or gathered_at,
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(fact_packages_table).where(fact_packages_table.c.host == host))
                exists = connection.execute(
                    select(fact_hosts_table.c.host).where(fact_hosts_table.c.host == host)
                ).first()
                if exists:
                    connection.execute(update(fact_hosts_table).where(fact_hosts_table.c.host == host).values(**values))
                else:
                    connection.execute(insert(fact_hosts_table).values(host=host, **values))
                if rows:
                    connection.execute(insert(fact_packages_table), rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store package facts of {host}: {exc}") from exc

    def facts(self, host: str) -> tuple[tuple[PackageInstall, ...], datetime] | None:
        """The packages installed on `host` and when they were gathered, or None when no facts were ever saved."""
        return self.all_facts([host]).get(host)

    def all_facts(self, hosts: Iterable[str] | None = None) -> dict[str, tuple[tuple[PackageInstall, ...], datetime]]:
        """`facts` for many hosts at once (every host with facts when `hosts` is None)."""
        wanted = None if hosts is None else set(hosts)
        try:
            with reader(self._engine) as connection:
                host_rows = list(connection.execute(select(fact_hosts_table)))
                if wanted is not None:
                    host_rows = [row for row in host_rows if row.host in wanted]
                packages: dict[str, builtins.list[PackageFact]] = {row.host: [] for row in host_rows}
                query = select(fact_packages_table).order_by(fact_packages_table.c.id)
                if wanted is not None:
                    query = query.where(fact_packages_table.c.host.in_(sorted(packages)))
                for row in connection.execute(query):
                    if row.host in packages:
                        packages[row.host].append(
                            PackageFact.model_construct(
                                name=row.name, version=row.version, arch=row.arch, source=row.source
                            )
                        )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read package facts: {exc}") from exc
        result = {}
        for row in host_rows:
            os = OsRelease.model_construct(
                family=row.os_family,
                version=row.os_version,
                release=row.os_release,
                manager=row.manager,
                cpe=row.os_cpe,
                cpe_source=row.os_cpe_source,
            )
            result[row.host] = (installs(row.host, os, packages[row.host]), row.gathered_at)
        return result
