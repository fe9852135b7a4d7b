"""Observers of a rollout: progress displays, structured logs and the like all watch the same events."""

from __future__ import annotations

from datetime import datetime

import structlog

from patchorch.domain.gates import GateDecision
from patchorch.domain.outcomes import BatchOutcome
from patchorch.domain.plan import Stage
from patchorch.domain.run import RunState, StageState
from patchorch.execution.base import HostEvent


class Observer:
    """Receives rollout events; override what you need, the rest do nothing. Called from the orchestrator's thread,
    except `host_event`, which may come from the executor's thread."""

    def run_state(self, run_id: str, state: RunState, reason: str) -> None:
        """The run moved to `state`."""

    def stage_started(self, run_id: str, stage: Stage) -> None:
        """A stage begins dispatching."""

    def stage_finished(self, run_id: str, stage: Stage, state: StageState) -> None:
        """A stage finished (completed, soaking, halted or cancelled)."""

    def batch_started(self, run_id: str, stage: Stage, batch: int, attempt: int, hosts: tuple[str, ...]) -> None:
        """Hosts are about to be dispatched; their intent is already recorded."""

    def batch_finished(self, run_id: str, stage: Stage, outcome: BatchOutcome) -> None:
        """A dispatch finished; its outcomes are already recorded."""

    def host_event(self, event: HostEvent) -> None:
        """One task finished on one host."""

    def gate(self, run_id: str, stage: Stage, decision: GateDecision) -> None:
        """A gate decided something other than proceed."""

    def waiting(self, run_id: str, until: datetime, reason: str) -> None:
        """The orchestrator waits (soak, maintenance window, retry back-off) until `until`."""


class LogObserver(Observer):
    """Writes every event as a structlog record (the orchestrator binds the run id into structlog's context)."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("patchorch.rollout")

    def run_state(self, run_id: str, state: RunState, reason: str) -> None:
        """Log the new run state."""
        self._log.info("run state", run=run_id, state=state.value, reason=reason)

    def stage_started(self, run_id: str, stage: Stage) -> None:
        """Log the stage start."""
        self._log.info("stage started", run=run_id, stage=stage.name, hosts=len(stage.hosts))

    def stage_finished(self, run_id: str, stage: Stage, state: StageState) -> None:
        """Log the stage end."""
        self._log.info("stage finished", run=run_id, stage=stage.name, state=state.value)

    def batch_finished(self, run_id: str, stage: Stage, outcome: BatchOutcome) -> None:
        """Log one line per host outcome."""
        for host in outcome.outcomes:
            self._log.info(
                "host outcome",
                run=run_id,
                stage=stage.name,
                batch=outcome.batch,
                attempt=outcome.attempt,
                host=host.host,
                status=host.status.value,
                before=host.versions_before,
                after=host.versions_after,
                message=host.message,
            )

    def gate(self, run_id: str, stage: Stage, decision: GateDecision) -> None:
        """Log a gate decision that stops or delays the run."""
        self._log.warning(
            "gate",
            run=run_id,
            stage=stage.name,
            gate=decision.gate,
            verdict=decision.verdict.value,
            reason=decision.reason,
        )

    def waiting(self, run_id: str, until: datetime, reason: str) -> None:
        """Log a wait."""
        self._log.info("waiting", run=run_id, until=until.isoformat(), reason=reason)
