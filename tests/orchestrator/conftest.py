"""Fixtures of the orchestrator tests: a fake clock and an in-memory store on it."""

from __future__ import annotations

import pytest

from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, memory_store


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when slept on."""
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> RunStore:
    """An in-memory store on the fake clock."""
    return memory_store(clock=clock)
