"""Fakes for users' tests, drills and benchmarks: a clock that never sleeps and an executor that patches no host.

Both satisfy the same Protocols as the real implementations, so automation written against patchorch can be tested
without Ansible or hosts:

    >>> clock = FakeClock()
    >>> executor = SimulatedExecutor(seed=7, clock=clock, fail={"mx2"}, unreachable={"imap1": 1})
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from patchorch.domain.advisory import HostFacts, OsRelease, PackageFact
from patchorch.domain.outcomes import BatchOutcome, CheckResult, HostOutcome, HostStatus
from patchorch.execution.base import (
    BatchInterrupted,
    BatchRequest,
    CancelCheck,
    EventCallback,
    FactsRequest,
    FactsResult,
    HostEvent,
    Release,
    TaskStatus,
)
from patchorch.testing._mock import not_released

_EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class FakeClock:
    """A clock that starts at `start` and moves only when something sleeps on it (or `advance` is called)."""

    def __init__(self, start: datetime = _EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        """The fake current time."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Move time forward instead of waiting; every sleep is kept in `sleeps`."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        with self._lock:
            self._now += timedelta(seconds=seconds)


@dataclass
class Dispatch:
    """One call of `run_batch`, as the simulated executor saw it."""

    stage: str
    batch: int
    attempt: int
    hosts: tuple[str, ...]
    check: bool


@dataclass
class SimulatedExecutor:
    """An Executor that simulates the patch role: seeded durations, injectable failures, per-host package state.

    - `fail`: hosts whose update fails (status failed, failed step `update`);
    - `fail_health`: hosts whose post-check fails after the update applied;
    - `unreachable`: host -> how many attempts in a row it is unreachable;
    - `fail_prepare`: hosts whose prepare phase fails (step `precheck`, as a full disk would);
    - `interrupt_after`: number of run_batch calls after which the next call raises BatchInterrupted part-way
      (half its hosts done), as Ctrl-C would;
    - `packages`: package -> (installed version, available version) on every host.
    A host that has been patched stays patched: a second dispatch reports it unchanged, as the real role would.
    """

    seed: int = 0
    clock: FakeClock | None = None
    fail: set[str] = field(default_factory=set)
    fail_health: set[str] = field(default_factory=set)
    unreachable: dict[str, int] = field(default_factory=dict)
    interrupt_after: int | None = None
    packages: Mapping[str, tuple[str, str]] = field(default_factory=lambda: {"acme-mta": ("1.0-1", "1.0-2")})
    mean_seconds: float = 20.0
    durations: Mapping[str, float] = field(default_factory=dict)  # host -> fixed seconds, instead of a random draw
    fail_prepare: set[str] = field(default_factory=set)
    dispatches: list[Dispatch] = field(default_factory=list)
    prepares: list[Dispatch] = field(default_factory=list)  # calls of the prepare phase, apart from dispatches
    patched: dict[str, int] = field(default_factory=dict)  # host -> how many times the update really applied

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311  # simulated durations, not security
        self._lock = threading.Lock()

    def run_batch(
        self,
        request: BatchRequest,
        *,
        on_event: EventCallback | None = None,
        cancelled: CancelCheck | None = None,
        release: Release | None = None,
    ) -> BatchOutcome:
        """Simulate the role on each host of the batch (or its prepare phase: nothing installed). A batch started
        ahead of its turn waits for `release` first; one never released touches nothing and is not a dispatch."""
        if request.phase == "prepare":
            return self._prepare(request)
        if release is not None and not release():
            return not_released(request)
        with self._lock:
            self.dispatches.append(
                Dispatch(request.stage, request.batch, request.attempt, request.hosts, request.check)
            )
            interrupt = self.interrupt_after is not None and len(self.dispatches) > self.interrupt_after
            if interrupt:
                self.interrupt_after = None
        outcomes: list[HostOutcome] = []
        for index, host in enumerate(request.hosts):
            if interrupt and index >= max(1, len(request.hosts) // 2):
                remaining = [HostOutcome(host=h, status=HostStatus.UNKNOWN) for h in request.hosts[index:]]
                raise BatchInterrupted((*outcomes, *remaining))
            if cancelled is not None and cancelled():
                outcomes.extend(HostOutcome(host=h, status=HostStatus.UNKNOWN) for h in request.hosts[index:])
                return BatchOutcome(
                    stage=request.stage,
                    batch=request.batch,
                    attempt=request.attempt,
                    outcomes=tuple(outcomes),
                    cancelled=True,
                )
            outcome = self._one(request, host)
            outcomes.append(outcome)
            if on_event is not None:
                status = {
                    HostStatus.PATCHED: TaskStatus.CHANGED,
                    HostStatus.UNCHANGED: TaskStatus.OK,
                    HostStatus.FAILED: TaskStatus.FAILED,
                    HostStatus.UNREACHABLE: TaskStatus.UNREACHABLE,
                }.get(outcome.status, TaskStatus.OK)
                on_event(HostEvent(request.stage, request.batch, request.attempt, host, "apply the update", status))
        return BatchOutcome(stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=tuple(outcomes))

    def _prepare(self, request: BatchRequest) -> BatchOutcome:
        with self._lock:
            self.prepares.append(Dispatch(request.stage, request.batch, request.attempt, request.hosts, request.check))
        outcomes = []
        for host in request.hosts:
            if host in self.fail_prepare:
                outcomes.append(
                    HostOutcome(
                        host=host,
                        status=HostStatus.FAILED,
                        failed_step="precheck",
                        failed_task="Check there is enough free disk space",
                        message="simulated: only 10 MiB free on /var, need 256 MiB",
                    )
                )
                continue
            prepared = {} if self.patched.get(host) else {p: new for p, (_old, new) in self.packages.items()}
            outcomes.append(HostOutcome(host=host, status=HostStatus.UNCHANGED, prepared=prepared))
        return BatchOutcome(stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=tuple(outcomes))

    def _one(self, request: BatchRequest, host: str) -> HostOutcome:
        started = self.clock.now() if self.clock else None
        duration = self._random.expovariate(1.0 / self.mean_seconds) if self.mean_seconds > 0 else 0.0
        duration = self.durations.get(host, duration)
        if self.clock is not None:
            self.clock.advance(duration)
        finished = self.clock.now() if self.clock else None
        times = {"started_at": started, "finished_at": finished, "check_mode": request.check}
        with self._lock:
            if self.unreachable.get(host, 0) > 0:
                self.unreachable[host] -= 1
                return HostOutcome(host=host, status=HostStatus.UNREACHABLE, message="ssh: connection refused", **times)
            already = self.patched.get(host, 0) > 0
        before = {p: (new if already else old) for p, (old, new) in self.packages.items()}
        after = {p: new for p, (_old, new) in self.packages.items()}
        if host in self.fail:
            return HostOutcome(
                host=host,
                status=HostStatus.FAILED,
                versions_before=before,
                versions_after=before,
                failed_step="update",
                failed_task="apply the update",
                message="simulated: dpkg returned an error",
                **times,
            )
        if request.check:
            status = HostStatus.UNCHANGED if already else HostStatus.PATCHED
            return HostOutcome(
                host=host, status=status, versions_before=before, versions_after=before, changed=not already, **times
            )
        if not already:
            with self._lock:
                self.patched[host] = self.patched.get(host, 0) + 1
        checks = (CheckResult(name="health", passed=host not in self.fail_health),)
        if host in self.fail_health:
            return HostOutcome(
                host=host,
                status=HostStatus.FAILED,
                versions_before=before,
                versions_after=after,
                changed=not already,
                checks=checks,
                failed_step="post-check",
                failed_task="http health check",
                message="simulated: health check answered 503",
                **times,
            )
        status = HostStatus.UNCHANGED if already else HostStatus.PATCHED
        return HostOutcome(
            host=host,
            status=status,
            versions_before=before,
            versions_after=after,
            changed=not already,
            checks=checks,
            **times,
        )

    def gather(self, request: FactsRequest) -> FactsResult:
        """Installed packages as the simulation has them."""
        facts = {}
        for host in request.hosts:
            already = self.patched.get(host, 0) > 0
            facts[host] = HostFacts(
                os=OsRelease(family="debian", version="12"),
                packages=tuple(
                    PackageFact(name=p, version=new if already else old, arch="amd64", source=p)
                    for p, (old, new) in sorted(self.packages.items())
                ),
            )
        return FactsResult(facts=facts, failed={})

    def dispatch_count(self, host: str) -> int:
        """How many non-check dispatches included `host`."""
        return sum(1 for d in self.dispatches if host in d.hosts and not d.check)


def hosts_of(dispatches: Iterable[Dispatch]) -> list[str]:
    """Every host of the dispatches, in order, repeated as often as dispatched."""
    return [h for d in dispatches for h in d.hosts]
