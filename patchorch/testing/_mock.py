"""Test doubles for the executor and the rendered content: an executor answered by a function (as httpx's
`MockTransport` is), and stage content that points nowhere.

    >>> def handler(request: BatchRequest) -> BatchOutcome:
    ...     status = HostStatus.FAILED if "mx2" in request.hosts else HostStatus.PATCHED
    ...     outcomes = tuple(HostOutcome(host=h, status=status) for h in request.hosts)
    ...     return BatchOutcome(stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=outcomes)
    >>> executor = MockExecutor(handler)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from patchorch.domain.outcomes import BatchOutcome, HostOutcome, HostStatus
from patchorch.execution.base import (
    BatchRequest,
    CancelCheck,
    EventCallback,
    FactsRequest,
    FactsResult,
    HostEvent,
    Release,
    TaskStatus,
)

BatchHandler = Callable[[BatchRequest], BatchOutcome]
FactsHandler = Callable[[FactsRequest], FactsResult]

# The task status a host event reports for each outcome; UNKNOWN and SKIPPED hosts ran no task, so send no event.
_EVENT_STATUS = {
    HostStatus.PATCHED: TaskStatus.CHANGED,
    HostStatus.UNCHANGED: TaskStatus.OK,
    HostStatus.FAILED: TaskStatus.FAILED,
    HostStatus.UNREACHABLE: TaskStatus.UNREACHABLE,
}


class MockExecutor:
    """An Executor whose every batch is answered by `handler(request)`, and facts by `facts(request)`.

    The handler sees each request (prepare phases included: `request.phase`) and returns the batch's outcome, which
    must name the request's stage, batch, attempt and exactly its hosts. One host event per outcome reaches
    `on_event`; a batch asked to stop before it starts reports every host UNKNOWN without calling the handler.
    Without `facts`, every host's facts fail. `requests` keeps every request, in order.
    """

    def __init__(self, handler: BatchHandler, *, facts: FactsHandler | None = None) -> None:
        self._handler = handler
        self._facts = facts
        self._lock = threading.Lock()
        self.requests: list[BatchRequest] = []

    def run_batch(
        self,
        request: BatchRequest,
        *,
        on_event: EventCallback | None = None,
        cancelled: CancelCheck | None = None,
        release: Release | None = None,
    ) -> BatchOutcome:
        """Answer the batch with the handler's outcome (checked against the request). A batch started ahead of its
        turn first waits for `release`; one never released reaches no handler and reports its hosts UNKNOWN."""
        if release is not None and not release():
            return not_released(request)
        with self._lock:
            self.requests.append(request)
        if cancelled is not None and cancelled():
            unknown = tuple(HostOutcome(host=h, status=HostStatus.UNKNOWN) for h in request.hosts)
            return BatchOutcome(
                stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=unknown, cancelled=True
            )
        outcome = self._handler(request)
        _check(request, outcome)
        if on_event is not None:
            for host in outcome.outcomes:
                status = _EVENT_STATUS.get(host.status)
                if status is not None:
                    task = host.failed_task or "mock handler"
                    on_event(HostEvent(request.stage, request.batch, request.attempt, host.host, task, status))
        return outcome

    def gather(self, request: FactsRequest) -> FactsResult:
        """Answer with the facts handler, or report every host's facts as failed when there is none."""
        if self._facts is None:
            return FactsResult(facts={}, failed=dict.fromkeys(request.hosts, "MockExecutor was given no facts handler"))
        return self._facts(request)


def not_released(request: BatchRequest) -> BatchOutcome:
    """What a batch that waited at the role's gate and was never released reports: no result on any host."""
    unknown = tuple(HostOutcome(host=h, status=HostStatus.UNKNOWN, message="not released") for h in request.hosts)
    return BatchOutcome(stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=unknown)


def _check(request: BatchRequest, outcome: BatchOutcome) -> None:
    """A handler that answers another batch, or other hosts, is a bug in the test: say so at once."""
    asked = (request.stage, request.batch, request.attempt)
    answered = (outcome.stage, outcome.batch, outcome.attempt)
    if answered != asked:
        raise ValueError(f"the handler answered stage/batch/attempt {answered} to a request for {asked}")
    hosts = [o.host for o in outcome.outcomes]
    if sorted(hosts) != sorted(request.hosts):
        raise ValueError(
            f"the handler answered for hosts {sorted(hosts)} to a request for {sorted(request.hosts)} "
            "(one outcome per requested host)"
        )


@dataclass(frozen=True)
class FakeContent:
    """StageContent for executors that never read it (the simulated and mock executors): paths that point nowhere."""

    root: Path = Path("/nonexistent/patchorch-run")

    @property
    def prepare_playbook(self) -> Path:
        """A path nothing reads."""
        return self.root / "prepare.yml"

    def stage_playbook(self, stage: str) -> Path:
        """A path per stage; nothing is read from it."""
        return self.root / f"{stage}.yml"

    @property
    def inventory_sources(self) -> tuple[Path, ...]:
        """No inventory: these executors need none."""
        return ()

    @property
    def ansible_cfg(self) -> Path | None:
        """No ansible.cfg."""
        return None

    @property
    def fact_cache(self) -> Path | None:
        """No fact cache."""
        return None
