"""The sliding-window dispatcher: concurrency, cluster budgets, windows and the failure budget at every instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings

from patchorch.domain.dispatch import (
    DispatchHost,
    DispatchLimits,
    SimStage,
    StageDispatcher,
    Timeline,
    lower_bound,
    simulate,
)
from patchorch.domain.fleet import MaintenanceWindow
from patchorch.domain.windows import open_intervals
from tests.strategies import dispatch_stages

MONDAY = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _instants(timeline: Timeline) -> list[datetime]:
    return sorted({p.start for p in timeline.hosts} | {p.end for p in timeline.hosts})


def _running(timeline: Timeline, at: datetime) -> list[str]:
    return [p.host for p in timeline.hosts if p.start <= at < p.end]


@settings(max_examples=60, deadline=None)
@given(dispatch_stages(use_windows=False))
def test_never_more_in_flight_than_the_concurrency(case: tuple[SimStage, frozenset[str]]) -> None:
    """At no instant do more hosts run than the stage's concurrency."""
    stage, failing = case
    timeline = simulate([stage], MONDAY, failures=failing)
    for at in _instants(timeline):
        assert len(_running(timeline, at)) <= stage.limits.concurrency


@settings(max_examples=60, deadline=None)
@given(dispatch_stages(use_windows=False))
def test_never_more_of_a_cluster_unavailable_than_its_budget(case: tuple[SimStage, frozenset[str]]) -> None:
    """Running members plus members that failed earlier never exceed the cluster's room."""
    stage, failing = case
    timeline = simulate([stage], MONDAY, failures=failing)
    cluster_of = {h.name: h.cluster for h in stage.hosts}
    for at in _instants(timeline):
        for cluster, room in stage.limits.room.items():
            running = [h for h in _running(timeline, at) if cluster_of[h] == cluster]
            down = [
                p.host for p in timeline.hosts if p.end <= at and p.host in failing and cluster_of[p.host] == cluster
            ]
            assert len(running) + len(down) <= room, (at, cluster, running, down)


@settings(max_examples=60, deadline=None)
@given(dispatch_stages(use_windows=True))
def test_regular_hosts_run_only_inside_their_windows(case: tuple[SimStage, frozenset[str]]) -> None:
    """Every host's projected run starts and ends inside one open span of its windows."""
    stage, failing = case
    timeline = simulate([stage], MONDAY, failures=failing)
    by_name = {h.name: h for h in stage.hosts}
    for projected in timeline.hosts:
        windows = by_name[projected.host].windows
        if not windows:
            continue
        spans = open_intervals(windows, MONDAY, timedelta(days=3))
        assert any(s <= projected.start and projected.end <= e for s, e in spans), projected


@settings(max_examples=60, deadline=None)
@given(dispatch_stages(use_windows=False))
def test_failures_stay_within_the_budget_plus_what_was_in_flight(case: tuple[SimStage, frozenset[str]]) -> None:
    """No host starts once the budget is exceeded, so failures <= budget + the hosts already in flight then."""
    stage, failing = case
    timeline = simulate([stage], MONDAY, failures=failing)
    budget = stage.limits.failure_budget or 0
    failed_ends = sorted(p.end for p in timeline.hosts if p.host in failing)
    if len(failed_ends) > budget:
        exceeded_at = failed_ends[budget]
        assert all(p.start < exceeded_at for p in timeline.hosts)
        in_flight = [p for p in timeline.hosts if p.start < exceeded_at <= p.end]  # the exceeding host included
        assert len(timeline.failed) <= budget + len(in_flight)
    assert len(timeline.failed) <= budget + stage.limits.concurrency


@settings(max_examples=60, deadline=None)
@given(dispatch_stages(use_windows=True))
def test_makespan_is_never_below_the_lower_bound(case: tuple[SimStage, frozenset[str]]) -> None:
    """The lower bound is a bound: no projected (failure-free, fully dispatched) makespan is shorter."""
    stage, _ = case
    timeline = simulate([stage], MONDAY)
    if not timeline.waiting:
        assert timeline.makespan >= timeline.lower_bound


def test_a_host_starts_when_a_slot_frees_without_waiting_for_the_rest() -> None:
    """No batch barrier: the third host starts when the shortest of the first two ends."""
    hosts = [DispatchHost("a", expected=10 * MINUTE), DispatchHost("b", expected=2 * MINUTE), DispatchHost("c")]
    timeline = simulate([SimStage("w", tuple(hosts), DispatchLimits(concurrency=2))], MONDAY)
    starts = {p.host: p.start for p in timeline.hosts}
    assert starts["c"] == MONDAY + 2 * MINUTE


def test_a_host_whose_duration_does_not_fit_waits_for_its_next_window() -> None:
    """A 45-minute host is not started 30 minutes before its window closes; it starts at the next opening."""
    stage, _ = _one_window_host(expected=45 * MINUTE)
    dispatcher = StageDispatcher(stage.hosts, stage.limits)
    late = MONDAY.replace(hour=9, minute=0)  # the 08:30-09:30 window has 30 minutes left
    assert dispatcher.startable(late) == ()
    assert dispatcher.waiting(late)[0].next_start == datetime(2026, 1, 6, 8, 30, tzinfo=UTC)


def test_emergency_ignores_windows() -> None:
    """With windows not counting, a host outside its window starts at once."""
    stage, _ = _one_window_host(expected=45 * MINUTE, use_windows=False)
    dispatcher = StageDispatcher(stage.hosts, stage.limits)
    assert dispatcher.startable(MONDAY.replace(hour=12)) == ("h",)


def test_canary_hosts_hold_their_cluster_until_the_stage_ends() -> None:
    """In a canary stage a finished host still counts against its cluster's room."""
    hosts = (DispatchHost("a", "c"), DispatchHost("b", "c"))
    dispatcher = StageDispatcher(hosts, DispatchLimits(concurrency=2, room={"c": 1}, hold_finished=True))
    assert dispatcher.startable(MONDAY) == ("a",)
    dispatcher.complete("a")
    assert dispatcher.startable(MONDAY) == ()


def test_unreachable_host_is_retried_after_its_back_off_and_keeps_its_room() -> None:
    """A host to be retried holds its cluster's room and starts again only once the back-off has passed."""
    hosts = (DispatchHost("a", "c"), DispatchHost("b", "c"))
    dispatcher = StageDispatcher(hosts, DispatchLimits(concurrency=2, room={"c": 1}))
    assert dispatcher.startable(MONDAY) == ("a",)
    dispatcher.complete("a", retry_at=MONDAY + MINUTE)
    assert dispatcher.startable(MONDAY) == ()
    assert dispatcher.next_event(MONDAY) == MONDAY + MINUTE
    assert dispatcher.startable(MONDAY + MINUTE) == ("a",)


def test_lower_bound_counts_cluster_work_over_its_room() -> None:
    """Four 10-minute members of a cluster with room 1 take at least 40 minutes, whatever the concurrency."""
    hosts = tuple(DispatchHost(f"h{i}", "c", 10 * MINUTE) for i in range(4))
    stage = SimStage("w", hosts, DispatchLimits(concurrency=4, room={"c": 1}))
    assert lower_bound([stage], MONDAY) == 40 * MINUTE
    assert simulate([stage], MONDAY).makespan == 40 * MINUTE


def _one_window_host(*, expected: timedelta, use_windows: bool = True) -> tuple[SimStage, None]:
    window = MaintenanceWindow(days=("mon", "tue"), start="08:30", duration="1h")  # type: ignore[arg-type]
    host = DispatchHost("h", None, expected, (window,))
    limits = DispatchLimits(concurrency=1, use_windows=use_windows, horizon=timedelta(days=2))
    return SimStage("w", (host,), limits), None


def test_failure_ending_with_a_success_stops_the_next_start() -> None:
    """A failure that spends the budget at the same instant as a success stops the host the success would start."""
    hosts = tuple(DispatchHost(name, None, MINUTE) for name in ("b", "a", "g"))
    stage = SimStage("wave-1", hosts, DispatchLimits(concurrency=2, failure_budget=0))
    timeline = simulate([stage], MONDAY, failures={"b"})
    assert sorted(p.host for p in timeline.hosts) == ["a", "b"]
    assert timeline.failed == ("b",)


def test_next_up_is_the_first_waiting_member_of_each_busy_cluster_and_never_a_host_out_of_its_window() -> None:
    """With a and x running, next up are b (c's next member) and y (no cluster); c waits behind b, and w's window is
    closed."""
    closed = MaintenanceWindow(days=("tue",), start="02:00", duration="1h")
    hosts = [
        DispatchHost("a", cluster="c"),
        DispatchHost("b", cluster="c"),
        DispatchHost("c", cluster="c"),
        DispatchHost("x"),
        DispatchHost("w", windows=(closed,)),
        DispatchHost("y"),
    ]
    dispatcher = StageDispatcher(hosts, DispatchLimits(concurrency=2, room={"c": 1}, use_windows=True))
    assert dispatcher.startable(MONDAY) == ("a", "x")
    assert dispatcher.next_up(MONDAY) == ("b", "y")


def test_nothing_is_next_up_once_the_failure_budget_is_spent() -> None:
    """A halted stage starts nothing, so nothing is started ahead of its turn either."""
    dispatcher = StageDispatcher(
        [DispatchHost("a"), DispatchHost("b")], DispatchLimits(concurrency=1, failure_budget=0)
    )
    assert dispatcher.startable(MONDAY) == ("a",)
    dispatcher.complete("a", failed=True)
    assert dispatcher.next_up(MONDAY) == ()
