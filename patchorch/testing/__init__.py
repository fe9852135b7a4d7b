"""Public fakes for testing automation built on patchorch, and the real test-fleet tooling (`patchorch.testing.fleet`).

- `FakeClock`: time that moves only when slept on; soak waits and back-offs finish at once.
- `SimulatedExecutor`: the Executor protocol without Ansible: seeded durations, injectable failures.
- `MockExecutor`: the Executor protocol answered by a function of yours, `handler(BatchRequest) -> BatchOutcome`.
- `FakeContent`: rendered-content paths for executors that read none (the two above).
- `RecordingObserver`: keeps every event the orchestrator emits, for assertions.
- `memory_store()`: a RunStore on an in-memory SQLite database.
"""

from __future__ import annotations

from patchorch.store.runs import RunStore, memory_engine
from patchorch.testing._fakes import Dispatch, FakeClock, SimulatedExecutor
from patchorch.testing._mock import BatchHandler, FactsHandler, FakeContent, MockExecutor
from patchorch.testing._recording import ObservedEvent, RecordingObserver


def memory_store(*, actor: str = "test", clock: FakeClock | None = None) -> RunStore:
    """A fresh RunStore in memory (real SQLite, nothing on disk)."""
    return RunStore(memory_engine(), actor=actor, clock=clock)


__all__ = [
    "BatchHandler",
    "Dispatch",
    "FactsHandler",
    "FakeClock",
    "FakeContent",
    "MockExecutor",
    "ObservedEvent",
    "RecordingObserver",
    "SimulatedExecutor",
    "memory_store",
]
