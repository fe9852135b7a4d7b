"""Public fakes for testing automation built on patchorch, and the real test-fleet tooling (`patchorch.testing.fleet`).

- `FakeClock`: time that moves only when slept on; soak waits and back-offs finish at once.
- `SimulatedExecutor`: the Executor protocol without Ansible: seeded durations, injectable failures.
- `memory_store()`: a RunStore on an in-memory SQLite database.
"""

from __future__ import annotations

from patchorch.store.runs import RunStore
from patchorch.testing._fakes import Dispatch, FakeClock, SimulatedExecutor


def memory_store(*, actor: str = "test", clock: FakeClock | None = None) -> RunStore:
    """A fresh RunStore in memory (real SQLite, nothing on disk)."""
    return RunStore.open("sqlite://", actor=actor, clock=clock)


__all__ = ["Dispatch", "FakeClock", "SimulatedExecutor", "memory_store"]
