"""The run store: runs, their frozen plans, stages, per-host attempts and outcomes, approvals and the audit log.

Every change and its audit record are written in one transaction. The audit log is append-only and hash-chained:
each record's hash covers its content and the previous record's hash, and a head row keeps the count and last hash,
so `verify_audit()` detects an edited, removed, reordered or truncated record.

SQLite (the default) runs in WAL mode with synchronous=FULL, a busy timeout and `BEGIN IMMEDIATE` for every
transaction, so two patchorch processes never interleave writes. Any SQLAlchemy URL works; PostgreSQL locks the audit
head row instead.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from patchorch.clock import Clock, SystemClock
from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import Mode, RolloutPlan
from patchorch.domain.run import (
    ApprovalRecord,
    AttemptRecord,
    AuditRecord,
    HostClaim,
    RunInputs,
    RunRecord,
    RunState,
    StageRecord,
    StageState,
)
from patchorch.errors import (
    AuditChainError,
    ConfigError,
    HostClaimedError,
    Problem,
    RunLockedError,
    RunStateError,
    StoreError,
)
from patchorch.store._chain import GENESIS, canonical, record_hash, row_digest
from patchorch.store.schema import READ_ONLY, metadata, migrate, reader

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("state", String(30), nullable=False),
    Column("state_reason", Text, nullable=False, default=""),
    Column("plan_hash", String(64), nullable=False),
    Column("plan_json", Text, nullable=False),
    Column("inputs_json", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    # The run a rollback undoes (migration 0007); NULL for every other run.
    Column("rollback_of", String(64), index=True),
)

stages = Table(
    "stages",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("idx", Integer, nullable=False),
    Column("state", String(30), nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("soak_until", String(40)),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False, index=True),
    Column("stage", String(100), nullable=False),
    Column("batch", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("dispatched_at", String(40), nullable=False),
    Column("status", String(30)),
    Column("outcome_json", Text),
    Column("evidence", Text),
    Column("finished_at", String(40)),
    # A failure an operator's resume accepted: it no longer spends the failure budget (None: not acknowledged).
    Column("acknowledged_at", String(40)),
    Column("acknowledged_by", String(200)),
    UniqueConstraint("run_id", "stage", "host", "attempt", name="uq_attempt"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
    Column("stage", String(100), nullable=False),
    Column("approver", String(200), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", String(40), nullable=False),
    UniqueConstraint("run_id", "stage", name="uq_approval"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(64)),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("event", String(60), nullable=False),
    Column("data_json", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Digests of the state rows this record wrote, {table: {key: digest}}; part of the hash (migration 0003).
    Column("state_json", Text),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

claims = Table(
    "claims",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("claimed_at", String(40), nullable=False),
    # The lease: renewed by the holder's heartbeat, so not part of the row's audited digest.
    Column("heartbeat_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

# The lock of a run: the process driving it (`holder`, `machine:pid`) holds a lease its heartbeat renews. Not a state
# row of the run: the audit records a lock only when it is taken over.
run_locks = Table(
    "run_locks",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("machine", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", String(40), nullable=False),
    Column("heartbeat_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)


# Key of the PostgreSQL advisory lock that serialises the first audit record of a store ("patchaud" in ASCII).
_FIRST_AUDIT_LOCK = 0x7061746368_617564


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _must_dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


class _Covered(NamedTuple):
    """A state table the audit chain covers: the columns that name a row, and how a person names it."""

    table: Table
    key: tuple[str, ...]
    noun: str
    volatile: tuple[str, ...] = ()

    def name(self, key: str) -> str:
        """`attempt r1/canary/a#1`, `stage r1/canary`: what an operator reads in `audit verify`."""
        parts = [str(part) for part in json.loads(key)]
        if self.table is attempts:
            return f"{self.noun} {'/'.join(parts[:-1])}#{parts[-1]}"
        return f"{self.noun} {'/'.join(parts)}"

    def row_key(self, row: Any) -> str:
        return canonical([row._mapping[column] for column in self.key])

    def digest(self, row: Any) -> str:
        """The row's digest over every column but the volatile ones (a lease's heartbeat)."""
        return row_digest({k: v for k, v in row._mapping.items() if k not in self.volatile})


# Every state row is covered by the chain: each write's audit record carries the digests of the rows it wrote.
_COVERED: dict[str, _Covered] = {
    "runs": _Covered(runs, ("id",), "run"),
    "stages": _Covered(stages, ("run_id", "name"), "stage"),
    "attempts": _Covered(attempts, ("run_id", "stage", "host", "attempt"), "attempt"),
    "approvals": _Covered(approvals, ("run_id", "stage"), "approval"),
    "claims": _Covered(claims, ("host",), "claim of", volatile=("heartbeat_at", "expires_at")),
}


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, synchronous=FULL, a busy timeout and BEGIN IMMEDIATE transactions;
    PostgreSQL gets a connect timeout of `_POSTGRES_CONNECT_TIMEOUT` seconds unless the URL sets its own, and a URL
    that names no driver (`postgresql://`, `postgres://`) uses psycopg 3, the driver `patchorch[postgres]` installs.

    A URL that names no database patchorch can use (an unknown scheme, a missing driver, an SQLite file that cannot
    be opened, SQLite in memory, whose records would die with the process) or a database server that does not answer
    is a ConfigError naming the store URL (never its password), before anything is written.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise _bad_url(f"{url!r} is not a database URL") from exc
    shown = parsed.render_as_string(hide_password=True)
    parsed = _with_driver(parsed)
    if parsed.get_backend_name() == "sqlite":
        if _in_memory(parsed):
            # As written: an SQLite URL has no password to hide, and rendering it would escape its ':'.
            message = f"{url} is an in-memory SQLite database: nothing recorded in it would outlast the process"
            raise _bad_url(message, value=url)
        return _sqlite_engine(url, Path(parsed.database or ""))
    try:
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=_connect_args(parsed))
    except NoSuchModuleError as exc:
        raise _bad_url(f"{shown} names no database patchorch knows ({parsed.drivername})") from exc
    except ImportError as exc:
        hint = _install_hint(parsed)
        driver = exc.name or parsed.drivername
        raise _bad_url(f"{shown} needs the driver {driver}, which is not installed{hint}") from exc
    _check_reachable(engine, shown, parsed.password)
    return engine


def memory_engine() -> Engine:
    """A store engine on a private in-memory SQLite database, for tests (`patchorch.testing.memory_store`).

    No store URL reaches it: `create_store_engine` refuses SQLite in memory, whose records would die with the process.
    """
    return _sqlite_engine("sqlite://", None)


_ALLOWED_URLS = "sqlite:///PATH or postgresql://USER@HOST/DB"

_POSTGRES_CONNECT_TIMEOUT = 10
"""Seconds a PostgreSQL store may take to answer when its URL sets no `?connect_timeout=N`: a host that drops
packets is "cannot reach the store" after this, not after the operating system's TCP timeout of minutes."""

_LIBPQ_DRIVERS = ("psycopg", "psycopg2")


def _connect_args(url: URL) -> dict[str, Any]:
    """What the driver gets beside the URL: the default connect timeout for libpq's drivers, unless the URL has one
    (SQLAlchemy's `connect_args` would override the URL's own)."""
    if url.get_driver_name() in _LIBPQ_DRIVERS and "connect_timeout" not in url.query:
        return {"connect_timeout": _POSTGRES_CONNECT_TIMEOUT}
    return {}


def _with_driver(url: URL) -> URL:
    """`url` with psycopg 3 as its driver when it names none: SQLAlchemy would pick psycopg2 for `postgresql://`,
    which `patchorch[postgres]` does not install, and knows no `postgres://` (libpq's own spelling) at all."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _install_hint(url: URL) -> str:
    """What to install for a missing driver: `patchorch[postgres]` brings psycopg 3 and no other PostgreSQL driver."""
    if url.get_backend_name() != "postgresql":
        return ""
    if url.get_driver_name() == "psycopg":
        return ": install patchorch[postgres]"
    return ": install it, or use postgresql://USER@HOST/DB with patchorch[postgres] installed (psycopg 3)"


def _bad_url(message: str, *, value: str | None = None, allowed: str | None = _ALLOWED_URLS) -> ConfigError:
    return ConfigError([Problem(message, field="store_url", value=value, allowed=allowed)])


def _in_memory(url: URL) -> bool:
    """Whether an SQLite URL names no file: no path, `:memory:`, or a `file:` URI (`?uri=true`) in memory mode."""
    database = url.database or ""
    if database in ("", ":memory:"):
        return True
    if "uri" not in url.query or not database.startswith("file:"):
        return False
    mode = url.query.get("mode", ())
    return "memory" in ((mode,) if isinstance(mode, str) else mode) or database in ("file:", "file::memory:")


def _check_reachable(engine: Engine, shown: str, password: str | None) -> None:
    """Connect once, so that a server that does not answer (or refuses the URL's user) is one clear line before
    anything runs; the connection goes back to the pool for the store's first use."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        reason = _short_reason(str(exc.orig if exc.orig is not None else exc))
        if password:
            reason = reason.replace(password, "***")
        check = (
            "check that the database server is running and accepts connections at the URL's host and port, "
            "and that the URL's user, password and database name are right"
        )
        raise _bad_url(f"cannot reach the store at {shown}: {reason}; {check}", value=shown, allowed=None) from exc


def _short_reason(message: str) -> str:
    """The driver's reason in a few words: what follows the last "failed: " of the first line that has one
    (psycopg: 'connection to server at "127.0.0.1", port 1 failed: Connection refused'), else the first line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if "failed: " in line:
            return line.rsplit("failed: ", 1)[1]
    return lines[0] if lines else "no reason given"


def _sqlite_engine(url: str, database: Path | None) -> Engine:
    """An SQLite engine on the file `database`, or in memory when it is None."""
    memory = database is None
    if database is not None:
        _check_sqlite_file(database)
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves so that every transaction takes the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _check_sqlite_file(path: Path) -> None:
    """Refuse an SQLite path that cannot hold a store: a directory, a missing or unwritable parent, not a database."""
    if path.is_dir():
        raise _bad_url(f"{path} is a directory, not an SQLite file")
    if not path.parent.is_dir():
        raise _bad_url(f"cannot create {path}: the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise _bad_url(f"cannot create {path}: the directory {path.parent} is not writable")
    if path.exists():
        try:
            with path.open("rb") as handle:
                header = handle.read(16)
        except OSError as exc:
            raise _bad_url(f"{path} cannot be read ({exc.strerror})") from exc
        if header and header != b"SQLite format 3\x00":
            raise _bad_url(f"{path} is not an SQLite database")


class RunStore:
    """Runs and everything recorded about them, over any SQLAlchemy engine."""

    def __init__(self, engine: Engine, *, actor: str, clock: Clock | None = None) -> None:
        self.engine = engine
        self.actor = actor
        self._clock: Clock = clock or SystemClock()
        migrate(engine)

    @classmethod
    def open(cls, url: str, *, actor: str, clock: Clock | None = None) -> RunStore:
        """Open (and create if needed) the store at `url`."""
        return cls(create_store_engine(url), actor=actor, clock=clock)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction: it takes the write lock up front (SQLite: BEGIN IMMEDIATE)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot that takes no write lock, so reads never queue behind a writer
        (SQLite in WAL mode: a deferred BEGIN)."""
        try:
            with reader(self.engine) as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    def now(self) -> datetime:
        """The store's clock: when a write made now would be recorded."""
        return self._clock.now()

    def _now(self) -> str:
        stamp = _iso(self._clock.now())
        if stamp is None:  # the clock must return a datetime
            raise StoreError("clock returned no time")
        return stamp

    # -- audit -------------------------------------------------------------------------------------------------

    def _audit(
        self,
        conn: Connection,
        run_id: str | None,
        event_: str,
        data: dict[str, Any],
        wrote: Sequence[tuple[Table, ColumnElement[bool]]] = (),
        deleted: Sequence[tuple[Table, Sequence[str]]] = (),
    ) -> None:
        """Append an audit record; `wrote` selects the state rows this transaction wrote, whose digests it carries,
        and `deleted` names (by key) the rows it removed."""
        head_row = select(audit_head).where(audit_head.c.id == 1).with_for_update()
        head = conn.execute(head_row).first()
        if head is None and conn.dialect.name == "postgresql":
            # No head row to lock yet: two first writers would both append record 1. The first takes this lock and
            # creates the head; the second waits for its commit and then reads it.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FIRST_AUDIT_LOCK})
            head = conn.execute(head_row).first()
        seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
        seq += 1
        at = self._now()
        body = canonical(data)
        # {table: {key: digest}}; a removed row's digest is None.
        state: dict[str, dict[str, str | None]] = {}
        for table, where in wrote:
            covered = _COVERED[table.name]
            for row in conn.execute(select(table).where(where)):
                state.setdefault(table.name, {})[covered.row_key(row)] = covered.digest(row)
        for table, keys in deleted:
            state.setdefault(table.name, {}).update(dict.fromkeys(keys))
        state_json = canonical(state) if state else None
        digest = record_hash(prev, seq, run_id, at, self.actor, event_, body, state_json)
        conn.execute(
            insert(audit).values(
                seq=seq,
                run_id=run_id,
                at=at,
                actor=self.actor,
                event=event_,
                data_json=body,
                prev_hash=prev,
                hash=digest,
                state_json=state_json,
            )
        )
        if head:
            conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        else:
            conn.execute(insert(audit_head).values(id=1, seq=seq, hash=digest))

    def audit_log(self, run_id: str | None = None) -> list[AuditRecord]:
        """Audit records in order, for one run or all."""
        query = select(audit).order_by(audit.c.seq)
        if run_id is not None:
            query = query.where(audit.c.run_id == run_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                seq=r.seq,
                run_id=r.run_id,
                at=_must_dt(r.at),
                actor=r.actor,
                event=r.event,
                data=json.loads(r.data_json),
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
            for r in rows
        ]

    def verify_audit(self) -> int:
        """Check the chain and every state row it covers; return the number of records.

        Raises AuditChainError naming the first break: an audit record edited, removed or reordered, a head that does
        not match, or a run, stage, attempt or approval whose row no longer matches the digest its last audit record
        carries (edited, deleted, or written without one).
        """
        with self._read() as conn:
            rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
            state_rows = {name: conn.execute(select(c.table)).all() for name, c in _COVERED.items()}
        prev = GENESIS
        # (table, key) -> (seq of the last record that wrote the row, its digest)
        vouched: dict[tuple[str, str], tuple[int, str]] = {}
        for expected_seq, row in enumerate(rows, start=1):
            if row.seq != expected_seq:
                raise AuditChainError(
                    f"audit record {expected_seq} is missing (found {row.seq} next)", seq=expected_seq
                )
            if row.prev_hash != prev:
                raise AuditChainError(f"audit record {row.seq} does not follow record {row.seq - 1}", seq=row.seq)
            digest = record_hash(prev, row.seq, row.run_id, row.at, row.actor, row.event, row.data_json, row.state_json)
            if digest != row.hash:
                raise AuditChainError(f"audit record {row.seq} was altered (its hash does not match)", seq=row.seq)
            for table, entries in json.loads(row.state_json or "{}").items():
                for key, row_hash in entries.items():
                    if row_hash is None:
                        vouched.pop((table, key), None)  # removed by this record
                    else:
                        vouched[(table, key)] = (row.seq, row_hash)
            prev = row.hash
        count = len(rows)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if head_seq != count or head_hash != prev:
            raise AuditChainError(
                f"the audit log ends at record {count} but its head says {head_seq}: records were removed",
                seq=count,
            )
        _check_state_rows(state_rows, vouched)
        return count

    # -- runs --------------------------------------------------------------------------------------------------

    def create_run(self, run_id: str, plan: RolloutPlan, inputs: RunInputs) -> RunRecord:
        """Record a new run with its frozen plan and its stages (all pending)."""
        now = self._now()
        with self._tx() as conn:
            conn.execute(
                insert(runs).values(
                    id=run_id,
                    created_at=now,
                    created_by=self.actor,
                    mode=plan.mode.value,
                    state=RunState.RUNNING.value,
                    state_reason="",
                    plan_hash=plan.content_hash,
                    plan_json=plan.canonical_json(),
                    inputs_json=inputs.model_dump_json(),
                    updated_at=now,
                    rollback_of=plan.update.rollback_of,
                )
            )
            for stage in plan.stages:
                conn.execute(
                    insert(stages).values(
                        run_id=run_id, name=stage.name, idx=stage.index, state=StageState.PENDING.value
                    )
                )
            data: dict[str, Any] = {
                "plan_hash": plan.content_hash,
                "mode": plan.mode.value,
                "inputs": inputs.model_dump(mode="json"),
            }
            if plan.update.rollback_of is not None:
                data["rollback_of"] = plan.update.rollback_of
            self._audit(
                conn,
                run_id,
                "run-created",
                data,
                wrote=[(runs, runs.c.id == run_id), (stages, stages.c.run_id == run_id)],
            )
        return self.run(run_id)

    def run(self, run_id: str) -> RunRecord:
        """The run called `run_id`; RunStateError if there is none."""
        with self._read() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunStateError(f"no run {run_id!r} in the store", run=run_id)
        return _run_record(row)

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest runs first."""
        with self._read() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)).all()
        return [_run_record(r) for r in rows]

    def rollbacks_of(self, run_id: str) -> list[str]:
        """The runs that roll back run `run_id`, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(runs.c.id).where(runs.c.rollback_of == run_id).order_by(runs.c.created_at, runs.c.id)
            ).all()
        return [r.id for r in rows]

    def plan(self, run_id: str) -> RolloutPlan:
        """The frozen plan of a run, checked against the hash recorded with it."""
        with self._read() as conn:
            row = conn.execute(select(runs.c.plan_json, runs.c.plan_hash).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunStateError(f"no run {run_id!r} in the store", run=run_id)
        if RolloutPlan.digest_of_json(row.plan_json) != row.plan_hash:
            raise StoreError(f"the stored plan of run {run_id} does not match its recorded hash", run=run_id)
        return RolloutPlan.from_json(row.plan_json)

    def set_run_state(self, run_id: str, state: RunState, reason: str = "") -> None:
        """Move a run to `state`, with the reason an operator will read."""
        with self._tx() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(state=state.value, state_reason=reason, updated_at=self._now())
            )
            self._audit(
                conn, run_id, "run-state", {"state": state.value, "reason": reason}, wrote=[(runs, runs.c.id == run_id)]
            )

    # -- stages ------------------------------------------------------------------------------------------------

    def stages(self, run_id: str) -> list[StageRecord]:
        """The stages of a run in order."""
        with self._read() as conn:
            rows = conn.execute(select(stages).where(stages.c.run_id == run_id).order_by(stages.c.idx)).all()
        return [
            StageRecord(
                run_id=r.run_id,
                name=r.name,
                index=r.idx,
                state=StageState(r.state),
                started_at=_dt(r.started_at),
                finished_at=_dt(r.finished_at),
                soak_until=_dt(r.soak_until),
            )
            for r in rows
        ]

    def set_stage_state(
        self,
        run_id: str,
        stage: str,
        state: StageState,
        *,
        soak_until: datetime | None = None,
        reason: str = "",
    ) -> None:
        """Move a stage to `state`; started and finished times are set on the way."""
        now = self._now()
        values: dict[str, Any] = {"state": state.value}
        if state is StageState.RUNNING:
            values["started_at"] = now
        if state in (StageState.COMPLETED, StageState.SOAKING, StageState.HALTED, StageState.CANCELLED):
            values["finished_at"] = now
        if soak_until is not None:
            values["soak_until"] = _iso(soak_until)
        with self._tx() as conn:
            result = conn.execute(
                update(stages).where(stages.c.run_id == run_id, stages.c.name == stage).values(**values)
            )
            if result.rowcount != 1:
                raise RunStateError(f"run {run_id} has no stage {stage!r}", run=run_id, stage=stage)
            data: dict[str, Any] = {"stage": stage, "state": state.value}
            if soak_until is not None:
                data["soak_until"] = _iso(soak_until)
            if reason:
                data["reason"] = reason
            self._audit(
                conn,
                run_id,
                "stage-state",
                data,
                wrote=[(stages, (stages.c.run_id == run_id) & (stages.c.name == stage))],
            )

    # -- attempts ----------------------------------------------------------------------------------------------

    def record_intent(
        self, run_id: str, stage: str, batch: int, attempt: int, hosts: Sequence[str]
    ) -> list[AttemptRecord]:
        """Record that these hosts are about to be dispatched; written before Ansible starts. Returns the attempts
        as recorded."""
        now = self._now()
        with self._tx() as conn:
            for host in hosts:
                conn.execute(
                    insert(attempts).values(
                        run_id=run_id, stage=stage, batch=batch, attempt=attempt, host=host, dispatched_at=now
                    )
                )
            self._audit(
                conn,
                run_id,
                "dispatch",
                {"stage": stage, "batch": batch, "attempt": attempt, "hosts": list(hosts)},
                wrote=[(attempts, _attempts_of(run_id, stage, attempt, hosts))],
            )
            return _written(conn, run_id, stage, attempt, hosts)

    def record_outcomes(
        self, run_id: str, stage: str, attempt: int, outcomes: Sequence[HostOutcome], *, evidence: str
    ) -> list[AttemptRecord]:
        """Record the outcome of each host of an attempt whose intent was recorded; `evidence` says what it rests on.
        Returns the attempts as recorded.

        An outcome without a matching intent, or for a host that already has one, is refused: nothing is recorded
        twice and nothing without its dispatch.
        """
        now = self._now()
        with self._tx() as conn:
            for outcome in outcomes:
                result = conn.execute(
                    update(attempts)
                    .where(
                        attempts.c.run_id == run_id,
                        attempts.c.stage == stage,
                        attempts.c.host == outcome.host,
                        attempts.c.attempt == attempt,
                        attempts.c.status.is_(None),
                    )
                    .values(
                        status=outcome.status.value,
                        outcome_json=outcome.model_dump_json(),
                        evidence=evidence,
                        finished_at=now,
                    )
                )
                if result.rowcount != 1:
                    raise RunStateError(
                        f"no open dispatch of {outcome.host} in stage {stage} attempt {attempt} of run {run_id}",
                        run=run_id,
                        stage=stage,
                        host=outcome.host,
                    )
            self._audit(
                conn,
                run_id,
                "outcomes",
                {
                    "stage": stage,
                    "attempt": attempt,
                    "evidence": evidence,
                    "hosts": {
                        o.host: {
                            "status": o.status.value,
                            "before": o.versions_before,
                            "after": o.versions_after,
                            **({"message": o.message} if o.message else {}),
                        }
                        for o in outcomes
                    },
                },
                wrote=[(attempts, _attempts_of(run_id, stage, attempt, [o.host for o in outcomes]))],
            )
            return _written(conn, run_id, stage, attempt, [o.host for o in outcomes])

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        """Every attempt of a run in dispatch order."""
        with self._read() as conn:
            rows = conn.execute(select(attempts).where(attempts.c.run_id == run_id).order_by(attempts.c.id)).all()
        return [_attempt_record(r) for r in rows]

    def acknowledge_failures(self, run_id: str, hosts: Sequence[str]) -> list[str]:
        """Record that an operator accepted the failures of `hosts`: each host's latest attempt, if it failed and is
        not acknowledged yet, is marked with who acknowledged it and when. Returns the hosts marked, sorted."""
        wanted = set(hosts)
        with self._tx() as conn:
            rows = conn.execute(
                select(attempts.c.id, attempts.c.host, attempts.c.status, attempts.c.acknowledged_at)
                .where((attempts.c.run_id == run_id) & attempts.c.host.in_(sorted(wanted)))
                .order_by(attempts.c.id)
            ).all()
            latest = {r.host: r for r in rows}  # in dispatch order: the last row of a host is its latest attempt
            marked = sorted(
                host
                for host, r in latest.items()
                if r.acknowledged_at is None and r.status is not None and HostStatus(r.status).counts_as_failure
            )
            if not marked:
                return []
            ids = [latest[host].id for host in marked]
            conn.execute(
                update(attempts)
                .where(attempts.c.id.in_(ids))
                .values(acknowledged_at=self._now(), acknowledged_by=self.actor)
            )
            self._audit(
                conn, run_id, "failures-acknowledged", {"hosts": marked}, wrote=[(attempts, attempts.c.id.in_(ids))]
            )
        return marked

    # -- approvals ---------------------------------------------------------------------------------------------

    def approve(self, run_id: str, stage: str, approver: str, comment: str = "") -> ApprovalRecord:
        """Record an approval of `stage`; a second approval of the same stage is refused."""
        now = self._now()
        with self._tx() as conn:
            existing = conn.execute(
                select(approvals).where(approvals.c.run_id == run_id, approvals.c.stage == stage)
            ).first()
            if existing is not None:
                raise RunStateError(
                    f"stage {stage} of run {run_id} was already approved by {existing.approver}",
                    run=run_id,
                    stage=stage,
                )
            conn.execute(
                insert(approvals).values(run_id=run_id, stage=stage, approver=approver, comment=comment, at=now)
            )
            self._audit(
                conn,
                run_id,
                "approval",
                {"stage": stage, "approver": approver, "comment": comment},
                wrote=[(approvals, (approvals.c.run_id == run_id) & (approvals.c.stage == stage))],
            )
        return ApprovalRecord(run_id=run_id, stage=stage, approver=approver, comment=comment, at=_must_dt(now))

    def approvals(self, run_id: str) -> list[ApprovalRecord]:
        """Approvals of a run in the order they were given."""
        with self._read() as conn:
            rows = conn.execute(select(approvals).where(approvals.c.run_id == run_id).order_by(approvals.c.id)).all()
        return [
            ApprovalRecord(run_id=r.run_id, stage=r.stage, approver=r.approver, comment=r.comment, at=_must_dt(r.at))
            for r in rows
        ]

    # -- host claims -------------------------------------------------------------------------------------------

    def claim_hosts(self, run_id: str, hosts: Sequence[str], *, holder: str, lease: timedelta) -> None:
        """Claim every one of `hosts` for `run_id` driven by `holder` until now + `lease`, or none of them.

        A host claimed by another run is refused with HostClaimedError naming the claim until its lease has expired
        (a run whose process died may have left an ansible-playbook on the host); an expired claim is taken over
        and the audit record says from whom. A claim of this run made by another process is adopted when `holder`
        holds the run's lock (that process is gone: its lock was taken over), else refused like another run's.
        Claims of this holder are renewed. A holder that lost the run's lock to another process claims nothing
        (RunLockedError).
        """
        _read_again_once(
            lambda: self._claim_once(run_id, hosts, holder=holder, lease=lease),
            f"cannot claim {', '.join(hosts)} for run {run_id}",
            run_id,
        )

    def _claim_once(self, run_id: str, hosts: Sequence[str], *, holder: str, lease: timedelta) -> None:
        now = self._clock.now()
        stamp, until = self._now(), _iso(now + lease)
        with self.engine.begin() as conn:
            held = {
                r.host: r for r in conn.execute(select(claims).where(claims.c.host.in_(list(hosts))).with_for_update())
            }
            locked_by = conn.execute(select(run_locks.c.holder).where(run_locks.c.run_id == run_id)).scalar()
            if locked_by is not None and locked_by != holder:
                raise RunLockedError(f"run {run_id} is now driven by {locked_by}; {holder} claims nothing", run=run_id)
            taken: dict[str, dict[str, str]] = {}
            for host in hosts:
                row = held.get(host)
                if row is None or (row.run_id == run_id and row.holder == holder):
                    continue
                adopted = row.run_id == run_id and locked_by == holder
                if _must_dt(row.expires_at) > now and not adopted:
                    whose = "another process of this run" if row.run_id == run_id else f"run {row.run_id}"
                    raise HostClaimedError(
                        f"{host} is claimed by {whose} ({row.owner}, {row.holder}) since {row.claimed_at}, "
                        f"lease until {row.expires_at}",
                        host=host,
                        run=row.run_id,
                        until=_must_dt(row.expires_at),
                    )
                taken[host] = {"run": row.run_id, "owner": row.owner, "holder": row.holder}
            # Only the rows read (and locked) above are replaced: a claim another process inserted since then makes
            # the insert below fail, and the retry reads it.
            if held:
                conn.execute(delete(claims).where(claims.c.host.in_(list(held))))
            conn.execute(
                insert(claims),
                [
                    {
                        "host": host,
                        "run_id": run_id,
                        "owner": self.actor,
                        "holder": holder,
                        "claimed_at": held[host].claimed_at if host in held and host not in taken else stamp,
                        "heartbeat_at": stamp,
                        "expires_at": until,
                    }
                    for host in hosts
                ],
            )
            data: dict[str, Any] = {"hosts": list(hosts), "holder": holder, "lease_until": until}
            if taken:
                data["taken_over"] = taken
            self._audit(conn, run_id, "hosts-claimed", data, wrote=[(claims, claims.c.host.in_(list(hosts)))])

    def renew_claims(self, run_id: str, *, holder: str, lease: timedelta) -> int:
        """The holder's heartbeat: extend the lease of every claim it holds for `run_id`; how many it still holds."""
        return self._renew(claims, (claims.c.run_id == run_id) & (claims.c.holder == holder), lease)

    def _renew(self, table: Table, mine: ColumnElement[bool], lease: timedelta) -> int:
        """Extend the leases of the rows of `table` that `mine` selects to now + `lease`; how many there are."""
        with self._tx() as conn:
            result = conn.execute(
                update(table).where(mine).values(heartbeat_at=self._now(), expires_at=_iso(self._clock.now() + lease))
            )
        return int(result.rowcount)

    def release_hosts(self, run_id: str, hosts: Sequence[str], *, holder: str) -> None:
        """Release the claims `holder` holds on `hosts` for `run_id` (their outcome is recorded)."""
        mine = (claims.c.run_id == run_id) & (claims.c.holder == holder) & claims.c.host.in_(list(hosts))
        with self._tx() as conn:
            released = [r.host for r in conn.execute(select(claims.c.host).where(mine))]
            if not released:
                return
            conn.execute(delete(claims).where(mine))
            self._audit(
                conn,
                run_id,
                "hosts-released",
                {"hosts": released},
                deleted=[(claims, [canonical([host]) for host in released])],
            )

    def claims(self) -> list[HostClaim]:
        """Every current claim, by host."""
        with self._read() as conn:
            rows = conn.execute(select(claims).order_by(claims.c.host)).all()
        return [
            HostClaim(
                host=r.host,
                run_id=r.run_id,
                owner=r.owner,
                holder=r.holder,
                claimed_at=_must_dt(r.claimed_at),
                expires_at=_must_dt(r.expires_at),
            )
            for r in rows
        ]

    # -- run locks --------------------------------------------------------------------------------------------

    def lock_run(self, run_id: str, *, holder: str, lease: timedelta) -> None:
        """Take the lock of `run_id` for `holder` (`machine:pid`) until now + `lease`, or renew it if `holder` has it.

        Another holder's lock is refused with RunLockedError naming it until its lease has expired, even when that
        holder looks dead: only the lease says so on every machine sharing the store. An expired lock is taken over
        and the audit record says from whom.
        """
        _read_again_once(
            lambda: self._lock_once(run_id, holder=holder, lease=lease), f"cannot lock run {run_id}", run_id
        )

    def _lock_once(self, run_id: str, *, holder: str, lease: timedelta) -> None:
        now = self._clock.now()
        stamp, until = self._now(), _iso(now + lease)
        machine, _, pid = holder.rpartition(":")
        with self.engine.begin() as conn:
            row = conn.execute(select(run_locks).where(run_locks.c.run_id == run_id).with_for_update()).first()
            if row is not None and row.holder != holder and _must_dt(row.expires_at) > now:
                raise RunLockedError(
                    f"run {run_id} is being driven by {row.owner} ({row.holder}) since {row.acquired_at}, "
                    f"lease until {row.expires_at}",
                    run=run_id,
                    holder=row.holder,
                    until=_must_dt(row.expires_at),
                )
            values = {
                "owner": self.actor,
                "holder": holder,
                "machine": machine,
                "pid": int(pid) if pid.isdigit() else 0,
                "acquired_at": row.acquired_at if row is not None and row.holder == holder else stamp,
                "heartbeat_at": stamp,
                "expires_at": until,
            }
            if row is None:
                conn.execute(insert(run_locks).values(run_id=run_id, **values))
                return
            conn.execute(update(run_locks).where(run_locks.c.run_id == run_id).values(**values))
            if row.holder != holder:
                taken = {"owner": row.owner, "holder": row.holder, "heartbeat_at": row.heartbeat_at}
                self._audit(conn, run_id, "run-lock-taken-over", {"holder": holder, "from": taken})

    def renew_run_lock(self, run_id: str, *, holder: str, lease: timedelta) -> bool:
        """The lock holder's heartbeat: extend its lease; False when `holder` no longer holds the lock."""
        return bool(self._renew(run_locks, (run_locks.c.run_id == run_id) & (run_locks.c.holder == holder), lease))

    def unlock_run(self, run_id: str, *, holder: str) -> None:
        """Release the lock of `run_id` if `holder` holds it."""
        with self._tx() as conn:
            conn.execute(delete(run_locks).where(run_locks.c.run_id == run_id, run_locks.c.holder == holder))

    def note(self, run_id: str | None, event_: str, data: dict[str, Any]) -> None:
        """Append an audit record that changes no other table (retries, reconciliation, gate decisions)."""
        with self._tx() as conn:
            self._audit(conn, run_id, event_, data)


def _read_again_once(write: Callable[[], None], failed: str, run_id: str) -> None:
    """Run `write` (read rows, then insert); when another process inserted the same row between our read and our
    write (PostgreSQL: no row to lock yet), run it once more, reading that row. Store failures are StoreError."""
    for attempt in (1, 2):
        try:
            write()
            return
        except IntegrityError as exc:
            if attempt == 2:
                raise StoreError(f"{failed}: {exc}", run=run_id) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{failed}: {exc}", run=run_id) from exc


def _attempt_record(r: Any) -> AttemptRecord:
    return AttemptRecord(
        run_id=r.run_id,
        stage=r.stage,
        batch=r.batch,
        attempt=r.attempt,
        host=r.host,
        dispatched_at=_must_dt(r.dispatched_at),
        status=HostStatus(r.status) if r.status else None,
        outcome=HostOutcome.model_validate_json(r.outcome_json) if r.outcome_json else None,
        evidence=r.evidence,
        finished_at=_dt(r.finished_at),
        acknowledged_at=_dt(r.acknowledged_at),
        acknowledged_by=r.acknowledged_by,
    )


def _written(conn: Connection, run_id: str, stage: str, attempt: int, hosts: Sequence[str]) -> list[AttemptRecord]:
    """The attempt rows a write just made or changed, as records in dispatch order."""
    query = select(attempts).where(_attempts_of(run_id, stage, attempt, hosts)).order_by(attempts.c.id)
    return [_attempt_record(r) for r in conn.execute(query)]


def _attempts_of(run_id: str, stage: str, attempt: int, hosts: Sequence[str]) -> ColumnElement[bool]:
    return (
        (attempts.c.run_id == run_id)
        & (attempts.c.stage == stage)
        & (attempts.c.attempt == attempt)
        & attempts.c.host.in_(list(hosts))
    )


def _check_state_rows(state_rows: dict[str, Sequence[Any]], vouched: dict[tuple[str, str], tuple[int, str]]) -> None:
    """Raise AuditChainError for the state row that breaks first (by the audit record that vouched for it)."""
    breaks: list[tuple[int, str, str]] = []
    unvouched = dict(vouched)
    for table, rows in state_rows.items():
        covered = _COVERED[table]
        for row in rows:
            key = covered.row_key(row)
            entry = unvouched.pop((table, key), None)
            name = covered.name(key)
            if entry is None:
                breaks.append((0, name, f"{name} is covered by no audit record: it was written outside patchorch"))
            elif entry[1] != covered.digest(row):
                breaks.append(
                    (
                        entry[0],
                        name,
                        f"{name} does not match audit record {entry[0]}: it was changed after it was recorded",
                    )
                )
    for (table, key), (seq, _digest) in unvouched.items():
        name = _COVERED[table].name(key)
        breaks.append((seq, name, f"{name} recorded by audit record {seq} is missing: it was deleted"))
    if breaks:
        seq, name, message = min(breaks)
        raise AuditChainError(message, seq=seq or None, record=name)


def holder_name() -> str:
    """This process as a claim holder: `hostname:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        created_at=_must_dt(row.created_at),
        created_by=row.created_by,
        mode=Mode(row.mode),
        state=RunState(row.state),
        state_reason=row.state_reason,
        plan_hash=row.plan_hash,
        inputs=RunInputs.model_validate_json(row.inputs_json),
        updated_at=_must_dt(row.updated_at),
        rollback_of=row.rollback_of,
    )
