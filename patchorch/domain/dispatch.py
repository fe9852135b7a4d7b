"""Sliding-window dispatch: which hosts of a stage may start now. Pure: the caller says what the time is.

Inside a stage there are no batch barriers. A host starts as soon as all of these hold:

- a concurrency slot is free (fewer than `concurrency` hosts in flight);
- its cluster has room: hosts in flight, failed or unreachable (and, in a canary stage, finished: they stay under
  observation until the soak ends) count as unavailable, and at most `room[cluster]` members may be unavailable;
- in a regular rollout, one of its maintenance windows is open now and its expected duration fits before it closes
  (hosts without windows may start at any time); emergency rollouts ignore windows;
- the failure budget is not spent: once more hosts failed than it tolerates nothing more starts, so failures never
  exceed the budget plus the hosts that were already in flight.

`StageDispatcher` is the state machine; the orchestrator feeds it real completions and `simulate` feeds it expected
durations to project the timeline that `patchorch plan --timeline` shows, with the lower bound any dispatcher could
reach under the same budgets and stage order.

    >>> from datetime import UTC, datetime, timedelta
    >>> limits = DispatchLimits(concurrency=2, room={"c": 1})
    >>> d = StageDispatcher([DispatchHost("a", "c"), DispatchHost("b", "c")], limits)
    >>> d.startable(datetime(2026, 1, 5, tzinfo=UTC))
    ('a',)
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from patchorch.domain.fleet import MaintenanceWindow
from patchorch.domain.plan import Mode, RolloutPlan, Stage, StageKind
from patchorch.domain.windows import WeeklyWindow, earliest_fit, open_intervals

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class DispatchHost:
    """What dispatch needs of one host: its cluster, its expected duration and (regular rollouts) its windows."""

    name: str
    cluster: str | None = None
    expected: timedelta = timedelta(minutes=10)
    windows: tuple[MaintenanceWindow | WeeklyWindow, ...] = ()


@dataclass(frozen=True)
class DispatchLimits:
    """The limits of one stage: concurrency, cluster room, failure budget, whether windows count.

    `room[c]` is how many members of cluster c may be unavailable at once, members the inventory marks unavailable
    already deducted. `failure_budget` is how many more failures the run and the stage tolerate (None: no limit).
    `hold_finished`: finished hosts keep holding their cluster's room until the stage ends (the canary).
    """

    concurrency: int
    room: Mapping[str, int] = field(default_factory=dict)
    failure_budget: int | None = None
    use_windows: bool = False
    horizon: timedelta = timedelta(days=7)
    hold_finished: bool = False


@dataclass(frozen=True)
class Waiting:
    """A host that cannot start in its windows now: when it next can (None: not within the horizon)."""

    host: str
    next_start: datetime | None


class StageDispatcher:
    """The dispatch state of one stage. Hosts are considered in the order given; nothing here reads a clock.

    `unavailable` counts, per cluster, members that failed or were unreachable earlier in the run: they are down
    as far as the budget is concerned.
    """

    def __init__(
        self,
        hosts: Sequence[DispatchHost],
        limits: DispatchLimits,
        *,
        unavailable: Mapping[str, int] | None = None,
    ) -> None:
        self.limits = limits
        self._hosts = {h.name: h for h in hosts}
        self._pending: list[str] = [h.name for h in hosts]
        self._not_before: dict[str, datetime] = {}
        self.in_flight: set[str] = set()
        self.failed: list[str] = []
        self.finished: list[str] = []
        self._held: Counter[str] = Counter(unavailable or {})
        self._holding: set[str] = set()  # hosts counted in _held (in flight, failed, retrying, held canary)
        self._spans: dict[tuple[MaintenanceWindow | WeeklyWindow, ...], tuple[datetime, tuple[Span, ...]]] = {}

    # -- questions ----------------------------------------------------------------------------------------------

    @property
    def pending(self) -> tuple[str, ...]:
        """Hosts not yet finished and not in flight, in order."""
        return tuple(self._pending)

    @property
    def halted(self) -> bool:
        """More hosts failed than the budget tolerates: nothing more starts."""
        budget = self.limits.failure_budget
        return budget is not None and len(self.failed) > budget

    @property
    def done(self) -> bool:
        """Nothing pending and nothing in flight."""
        return not self._pending and not self.in_flight

    def held(self, cluster: str) -> int:
        """Members of `cluster` that count as unavailable now."""
        return self._held[cluster]

    def fits_window(self, host: str, now: datetime) -> bool:
        """True when the host may start now as far as its windows go (always, when windows do not count)."""
        return self.next_window_start(host, now) == now

    def next_window_start(self, host: str, now: datetime) -> datetime | None:
        """The earliest moment at or after `now` at which `host` may start inside a window; None past the horizon."""
        info = self._hosts[host]
        if not self.limits.use_windows or not info.windows:
            return now
        return earliest_fit(self._spans_of(info.windows, now), now, info.expected)

    def waiting(self, now: datetime) -> tuple[Waiting, ...]:
        """Pending hosts whose windows do not let them start now, with their next possible start."""
        result = []
        for host in self._pending:
            start = self.next_window_start(host, now)
            if start != now:
                result.append(Waiting(host, start))
        return tuple(result)

    def next_event(self, now: datetime) -> datetime | None:
        """The next moment after `now` at which a pending host's window opens or its retry falls due; None if none.

        Hosts held back only by slots or cluster room make no event: a completion frees those.
        """
        times = []
        for host in self._pending:
            start = self.next_window_start(host, max(now, self._not_before.get(host, now)))
            if start is not None and start > now:
                times.append(start)
        return min(times) if times else None

    def next_up(self, now: datetime) -> tuple[str, ...]:
        """Pending hosts held back now only by a free slot or their cluster's room, in the order they would start:
        the first of each cluster (any host without one). Nothing when the stage is halted.

        A caller may start their read-only steps ahead of their turn; starting them for real stays `startable`'s.
        """
        if self.halted:
            return ()
        result: list[str] = []
        seen: set[str] = set()
        for host in self._pending:
            not_before = self._not_before.get(host)
            if (not_before is not None and now < not_before) or not self.fits_window(host, now):
                continue
            cluster = self._hosts[host].cluster
            if cluster is not None:
                if cluster in seen:
                    continue
                seen.add(cluster)
            result.append(host)
        return tuple(result)

    # -- transitions --------------------------------------------------------------------------------------------

    def startable(self, now: datetime) -> tuple[str, ...]:
        """Start every host that may start now (first come, first served) and return them; they are in flight."""
        if self.halted:
            return ()
        started: list[str] = []
        room = self.limits.room
        for host in list(self._pending):
            if len(self.in_flight) >= self.limits.concurrency:
                break
            not_before = self._not_before.get(host)
            if not_before is not None and now < not_before:
                continue
            cluster = self._hosts[host].cluster
            if (
                cluster is not None
                and host not in self._holding
                and cluster in room
                and self._held[cluster] >= room[cluster]
            ):
                continue
            if not self.fits_window(host, now):
                continue
            self._pending.remove(host)
            self._not_before.pop(host, None)
            self.in_flight.add(host)
            if cluster is not None and host not in self._holding:
                self._held[cluster] += 1
                self._holding.add(host)
            started.append(host)
        return tuple(started)

    def complete(self, host: str, *, failed: bool = False, retry_at: datetime | None = None) -> None:
        """`host` finished: patched (default), failed (it stays unavailable), or to be retried at `retry_at`.

        A host to be retried (unreachable) keeps its cluster's room until it finishes for good.
        """
        self.in_flight.discard(host)
        cluster = self._hosts[host].cluster
        if retry_at is not None:
            self._pending.insert(0, host)
            self._not_before[host] = retry_at
            return
        if failed:
            self.failed.append(host)
            return
        self.finished.append(host)
        if cluster is not None and host in self._holding and not self.limits.hold_finished:
            self._held[cluster] -= 1
            self._holding.discard(host)

    def _spans_of(self, windows: tuple[MaintenanceWindow | WeeklyWindow, ...], now: datetime) -> tuple[Span, ...]:
        cached = self._spans.get(windows)
        if cached is not None:
            since, spans = cached
            if since <= now and (not spans or spans[-1][0] > now):
                return spans
        spans = open_intervals(windows, now, self.limits.horizon)
        self._spans[windows] = (now, spans)
        return spans


# -- projection -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimStage:
    """One stage as the simulation sees it: its hosts in plan order, its limits, its soak and earliest start."""

    name: str
    hosts: tuple[DispatchHost, ...]
    limits: DispatchLimits
    soak: timedelta = timedelta(0)
    earliest_start: datetime | None = None


@dataclass(frozen=True)
class ProjectedHost:
    """One host's projected start and end."""

    host: str
    stage: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Timeline:
    """The projected timeline of a rollout: every host's start and end, who waits, the makespan and lower bound.

    `makespan` runs from `start` to the end of the last host; `lower_bound` is the least makespan any dispatcher
    could reach with the same durations, concurrency, cluster budgets, windows and stage order (see `lower_bound`).
    """

    start: datetime
    hosts: tuple[ProjectedHost, ...]
    waiting: tuple[Waiting, ...]
    failed: tuple[str, ...]
    makespan: timedelta
    lower_bound: timedelta
    max_in_flight: int = 0
    max_unavailable: Mapping[str, int] = field(default_factory=dict)


def simulate(
    stages: Sequence[SimStage],
    start: datetime,
    *,
    durations: Mapping[str, timedelta] | None = None,
    failures: Iterable[str] = (),
) -> Timeline:
    """Run the dispatcher over `stages` with each host taking `durations[host]` (default: its expected duration).

    Hosts in `failures` fail. Stages run in order, each after the previous one's soak and not before its earliest
    start; a stage whose failures spent the budget ends the projection there.
    """
    failing = frozenset(failures)
    now = start
    projected: list[ProjectedHost] = []
    waiting: list[Waiting] = []
    failed: list[str] = []
    peak = 0
    peak_held: Counter[str] = Counter()
    down: Counter[str] = Counter()  # failed members so far, per cluster
    for stage in stages:
        if stage.earliest_start is not None and now < stage.earliest_start and not stage.limits.use_windows:
            now = stage.earliest_start
        dispatcher = StageDispatcher(stage.hosts, stage.limits, unavailable=down)
        by_name = {h.name: h for h in stage.hosts}
        running: list[tuple[datetime, str]] = []
        while True:
            for host in dispatcher.startable(now):
                length = (durations or {}).get(host, by_name[host].expected)
                heapq.heappush(running, (now + length, host))
                projected.append(ProjectedHost(host, stage.name, now, now + length))
            peak = max(peak, len(dispatcher.in_flight))
            for cluster in stage.limits.room:
                peak_held[cluster] = max(peak_held[cluster], dispatcher.held(cluster))
            if running:
                # Every host ending at this instant completes before anything new starts: a failure among them is
                # counted against the budget first, as the engine would have seen it.
                now, first = heapq.heappop(running)
                ending = [first]
                while running and running[0][0] == now:
                    ending.append(heapq.heappop(running)[1])
                for host in ending:
                    failed_now = host in failing
                    dispatcher.complete(host, failed=failed_now)
                    if failed_now:
                        failed.append(host)
                        home = by_name[host].cluster
                        if home is not None:
                            down[home] += 1
                continue
            if dispatcher.done or dispatcher.halted:
                break
            upcoming = dispatcher.next_event(now)
            if upcoming is None:
                # Nothing can ever start (windows past the horizon, or a cluster whose room failures used up).
                waiting.extend(dispatcher.waiting(now) or (Waiting(h, None) for h in dispatcher.pending))
                break
            now = upcoming
        if dispatcher.halted:
            break
        now += stage.soak
    end = max((p.end for p in projected), default=start)
    return Timeline(
        start=start,
        hosts=tuple(projected),
        waiting=tuple(waiting),
        failed=tuple(failed),
        makespan=end - start,
        lower_bound=lower_bound(stages, start, durations=durations),
        max_in_flight=peak,
        max_unavailable=dict(peak_held),
    )


def lower_bound(
    stages: Sequence[SimStage], start: datetime, *, durations: Mapping[str, timedelta] | None = None
) -> timedelta:
    """The least makespan any dispatcher could reach: per stage the largest of

    - the stage's work divided by its concurrency,
    - each cluster's work in the stage divided by its room (the canary holds its hosts, so there it is the count),
    - each host's earliest possible start in its windows plus its duration,

    stages one after another with their soaks between (the last stage's soak is not waited for).
    """
    now = start
    end = start
    for stage in stages:
        if stage.earliest_start is not None and now < stage.earliest_start and not stage.limits.use_windows:
            now = stage.earliest_start
        lengths = {h.name: (durations or {}).get(h.name, h.expected) for h in stage.hosts}
        if not lengths:
            continue
        bound = sum(lengths.values(), timedelta(0)) / stage.limits.concurrency
        per_cluster: dict[str, timedelta] = {}
        for host in stage.hosts:
            if host.cluster is not None and host.cluster in stage.limits.room:
                per_cluster[host.cluster] = per_cluster.get(host.cluster, timedelta(0)) + lengths[host.name]
        for cluster, work in per_cluster.items():
            room = stage.limits.room[cluster]
            if room > 0 and not stage.limits.hold_finished:
                bound = max(bound, work / room)
        probe = StageDispatcher(stage.hosts, stage.limits)
        for host in stage.hosts:
            fit = probe.next_window_start(host.name, now)
            if fit is not None:
                bound = max(bound, fit - now + lengths[host.name])
        end = now + bound
        now = end + stage.soak
    return end - start


# -- from a plan ----------------------------------------------------------------------------------------------


def limits_for(plan: RolloutPlan, stage: Stage, *, failure_budget: int | None = None) -> DispatchLimits:
    """The dispatch limits of one stage of `plan`: its concurrency, the plan's cluster room, windows in a regular
    rollout, the canary holding its hosts; `failure_budget` is what is left of the run's and the stage's."""
    return DispatchLimits(
        concurrency=stage.concurrency,
        room=dict(plan.cluster_room),
        failure_budget=failure_budget,
        use_windows=plan.mode is Mode.REGULAR,
        horizon=plan.horizon,
        hold_finished=stage.kind is StageKind.CANARY,
    )


def dispatch_host(plan: RolloutPlan, host: str, expected: Mapping[str, timedelta] | None = None) -> DispatchHost:
    """What dispatch needs of `host` from the plan; `expected` holds measured durations (else the plan's value)."""
    length = (expected or {}).get(host, plan.expected_duration)
    for planned in plan.hosts:
        if planned.name == host:
            return DispatchHost(host, planned.cluster, length, planned.windows)
    return DispatchHost(host, expected=length)


def plan_stages(plan: RolloutPlan, *, expected: Mapping[str, timedelta] | None = None) -> list[SimStage]:
    """The plan's stages as the simulation sees them; `expected` holds measured durations (else the plan's)."""
    planned = {h.name: h for h in plan.hosts}
    stages = []
    for stage in plan.stages:
        hosts = []
        for name in stage.hosts:
            info = planned.get(name)
            length = (expected or {}).get(name, plan.expected_duration)
            hosts.append(
                DispatchHost(name, info.cluster, length, info.windows) if info else DispatchHost(name, expected=length)
            )
        stages.append(SimStage(stage.name, tuple(hosts), limits_for(plan, stage), stage.soak, stage.earliest_start))
    return stages


def project(
    plan: RolloutPlan,
    *,
    expected: Mapping[str, timedelta] | None = None,
    durations: Mapping[str, timedelta] | None = None,
) -> Timeline:
    """The timeline this dispatcher would give `plan` from its planning time, approvals given at once and no host
    failing: what `patchorch plan --timeline` shows. Dispatch decides with the `expected` durations (windows must
    fit them); hosts take `durations` when given (a benchmark's draw), else their expected durations."""
    return simulate(plan_stages(plan, expected=expected), plan.planned_at, durations=durations)
