"""Fixtures of the orchestrator tests: a fake clock and a fresh store on it (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when slept on."""
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock, store_url: str) -> RunStore:
    """A fresh store on the fake clock, on SQLite and on PostgreSQL."""
    return RunStore.open(store_url, actor="test", clock=clock)
