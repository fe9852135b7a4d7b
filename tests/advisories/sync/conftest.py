"""Fixtures of the sync tests: one test CA per session, an HTTPS advisory server per test, real SQLite stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from patchorch.store.advisories import AdvisoryStore
from patchorch.store.sync import SyncStore
from tests.advisories.sync.provider import AdvisoryServer, TestCA


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA and a server certificate for 127.0.0.1, made for this session."""
    return TestCA(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(test_ca: TestCA) -> Iterator[AdvisoryServer]:
    """An HTTPS advisory server on 127.0.0.1, stopped after the test."""
    with AdvisoryServer(test_ca) as running:
        yield running


@pytest.fixture
def stores(tmp_path: Path) -> tuple[AdvisoryStore, SyncStore]:
    """The advisory store and the sync state on one fresh SQLite file."""
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    advisories, state = AdvisoryStore(engine), SyncStore(engine)
    advisories.create_tables()
    state.create_tables()
    return advisories, state
