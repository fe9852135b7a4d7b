"""Where a workspace's records live, and the one place their stores are opened (runs, advisories, sync state).

A `Workspace` opens its run store here; commands that only read or import advisories (no executor, no engine) open
the advisory and sync stores of the same location without building a workspace. The stores of one location share
one database engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import Engine

from patchorch.clock import Clock
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.location import STORE_FILE, default_store_url
from patchorch.store.runs import RunStore, create_store_engine
from patchorch.store.sync import SyncStore


@dataclass(frozen=True)
class StoreLocation:
    """A state directory and, when the records live in another database, its SQLAlchemy URL."""

    state_dir: Path
    store_url: str | None = None

    @property
    def url(self) -> str:
        """The store's SQLAlchemy URL: `store_url`, or SQLite in the state directory."""
        return self.store_url or default_store_url(self.state_dir)

    def exists(self) -> bool:
        """Whether there is a store to read without creating one: a store URL, or the SQLite file already made."""
        return self.store_url is not None or (self.state_dir / STORE_FILE).exists()

    def engine(self) -> Engine:
        """The store's engine, opened on first use and shared by every store of this location, so that a command
        reading runs, advisories and sync state connects once; for SQLite the state directory (private to its user)
        is made first."""
        return self._engine

    @cached_property
    def _engine(self) -> Engine:
        if self.store_url is None:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return create_store_engine(self.url)

    def runs(self, *, actor: str, clock: Clock | None = None) -> RunStore:
        """The run store, its schema brought up to date; `actor` is recorded with everything written through it."""
        return RunStore(self.engine(), actor=actor, clock=clock)

    def advisories(self) -> AdvisoryStore:
        """The advisory and package-facts store, its schema brought up to date."""
        store = AdvisoryStore(self.engine())
        store.create_tables()
        return store

    def sync(self) -> SyncStore:
        """The advisory sync state, its schema brought up to date."""
        store = SyncStore(self.engine())
        store.create_tables()
        return store
