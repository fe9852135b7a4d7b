"""An observer that keeps every event the orchestrator emits, for assertions (as structlog's `capture_logs` keeps
log records).

    >>> recorder = RecordingObserver()
    >>> workspace = Workspace.open(state, executor=executor, observers=[recorder])     # doctest: +SKIP
    >>> recorder.names()[:3]                                                          # doctest: +SKIP
    ['run_state', 'stage_started', 'batch_started']
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from patchorch.domain.gates import GateDecision
from patchorch.domain.outcomes import BatchOutcome
from patchorch.domain.plan import Stage
from patchorch.domain.run import RunState, StageState
from patchorch.execution.base import HostEvent
from patchorch.orchestrator.observers import Observer


@dataclass(frozen=True)
class ObservedEvent:
    """One call the orchestrator made on its observers: the Observer method's name and its arguments by name."""

    name: str
    data: Mapping[str, object]

    def __getitem__(self, key: str) -> object:
        return self.data[key]


class RecordingObserver(Observer):
    """Keeps every event, in the order the orchestrator emitted it (host events come from the executor's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[ObservedEvent] = []

    def names(self) -> list[str]:
        """The name of every event so far, in order."""
        with self._lock:
            return [event.name for event in self.events]

    def of(self, name: str) -> list[ObservedEvent]:
        """The events named `name` (an Observer method: `stage_started`, `batch_finished`, ...), in order."""
        with self._lock:
            return [event for event in self.events if event.name == name]

    @property
    def host_events(self) -> list[HostEvent]:
        """Every task result reported for a host, in order."""
        return [found for event in self.of("host_event") if isinstance(found := event.data["event"], HostEvent)]

    def _keep(self, name: str, **data: object) -> None:
        with self._lock:
            self.events.append(ObservedEvent(name, data))

    def run_state(self, run_id: str, state: RunState, reason: str) -> None:
        """Keep the new run state."""
        self._keep("run_state", run_id=run_id, state=state, reason=reason)

    def stage_started(self, run_id: str, stage: Stage) -> None:
        """Keep the stage start."""
        self._keep("stage_started", run_id=run_id, stage=stage)

    def stage_finished(self, run_id: str, stage: Stage, state: StageState) -> None:
        """Keep the stage end."""
        self._keep("stage_finished", run_id=run_id, stage=stage, state=state)

    def batch_started(self, run_id: str, stage: Stage, batch: int, attempt: int, hosts: tuple[str, ...]) -> None:
        """Keep the dispatch."""
        self._keep("batch_started", run_id=run_id, stage=stage, batch=batch, attempt=attempt, hosts=hosts)

    def batch_finished(self, run_id: str, stage: Stage, outcome: BatchOutcome) -> None:
        """Keep the batch's outcome."""
        self._keep("batch_finished", run_id=run_id, stage=stage, outcome=outcome)

    def host_event(self, event: HostEvent) -> None:
        """Keep the task result."""
        self._keep("host_event", event=event)

    def gate(self, run_id: str, stage: Stage, decision: GateDecision) -> None:
        """Keep the gate's decision."""
        self._keep("gate", run_id=run_id, stage=stage, decision=decision)

    def waiting(self, run_id: str, until: datetime, reason: str) -> None:
        """Keep the wait."""
        self._keep("waiting", run_id=run_id, until=until, reason=reason)
