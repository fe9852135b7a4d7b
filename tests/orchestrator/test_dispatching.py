"""The orchestrator's prepare phase and sliding-window dispatch, driven by the simulated executor and a fake clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from patchorch.domain.fleet import MaintenanceWindow
from patchorch.domain.outcomes import BatchOutcome, HostOutcome, HostStatus
from patchorch.domain.plan import Mode, RolloutPlan
from patchorch.domain.run import RunInputs, RunState
from patchorch.domain.windows import WeeklyWindow
from patchorch.orchestrator.engine import Orchestrator
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan

CONTENT = FakeContent()
# The fake clock starts on Monday 2026-01-05 08:00 UTC; this window opens half an hour later for an hour.
MONDAY_0830 = WeeklyWindow.of(MaintenanceWindow(days=("mon",), start="08:30", duration="1h"))  # type: ignore[arg-type]


def _orchestrator(
    store: RunStore, executor: SimulatedExecutor, clock: FakeClock, tmp_path: Path, **options: object
) -> Orchestrator:
    return Orchestrator(store, executor, clock=clock, **options)  # type: ignore[arg-type]


def _with(plan: RolloutPlan, *, mode: Mode | None = None, **per_host: dict[str, object]) -> RolloutPlan:
    hosts = tuple(h.model_copy(update=per_host.get(h.name, {})) for h in plan.hosts)
    return plan.model_copy(update={"hosts": hosts, "mode": mode or plan.mode})


def test_prepare_runs_once_on_every_target_before_any_host_is_dispatched(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One prepare call covers every target; its versions are recorded; then the stages dispatch."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = make_plan([[["c1"]], [["a", "b"]]])
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.succeeded
    assert [d.hosts for d in executor.prepares] == [("c1", "a", "b")]
    prepared = [r.data for r in store.audit_log("r") if r.event == "prepared"]
    assert prepared == [{"hosts": {h: {"acme-mta": "1.0-2"} for h in ("c1", "a", "b")}, "failed": {}}]
    events = [r.event for r in store.audit_log("r") if r.event in ("prepared", "dispatch")]
    assert events[0] == "prepared"


def test_a_host_failing_prepare_halts_before_any_disruption_naming_its_owner(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A prepare failure halts the run with host, owner and reason; no host is dispatched."""
    executor = SimulatedExecutor(clock=clock, fail_prepare={"b"})
    plan = _with(make_plan([[["c1"]], [["a", "b"]]]), b={"owner": "mail-team <mail@example.org>"})
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.HALTED
    assert "prepare failed before any host was disrupted: b (owner mail-team <mail@example.org>)" in report.reason
    assert "only 10 MiB free" in report.reason
    assert executor.dispatches == []


def test_resume_prepares_only_the_hosts_not_yet_prepared(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """After a prepare failure is fixed, resume prepares that host alone and completes the run."""
    executor = SimulatedExecutor(clock=clock, fail_prepare={"b"})
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    orchestrator.start(make_plan([[["c1"]], [["a", "b"]]]), CONTENT, RunInputs(), run_id="r")
    executor.fail_prepare.clear()
    report = orchestrator.resume("r", CONTENT)
    assert report.succeeded
    assert [d.hosts for d in executor.prepares] == [("c1", "a", "b"), ("b",)]


def test_hosts_free_to_start_share_one_playbook_whatever_the_batches(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three one-host batches under a concurrency of 5 start together in one dispatch: no batch barrier."""
    executor = SimulatedExecutor(clock=clock)
    plan = make_plan([[["a"], ["b"], ["c"]]], canary=False)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.succeeded
    assert [d.hosts for d in executor.dispatches] == [("a", "b", "c")]


def test_regular_host_waits_for_its_window_then_is_patched_inside_it(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A host whose window opens at 08:30 is dispatched at 08:30, after the unrestricted host."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = _with(make_plan([[["a", "b"]]], canary=False), mode=Mode.REGULAR, a={"windows": (MONDAY_0830,)})
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.succeeded
    assert [d.hosts for d in executor.dispatches] == [("b",), ("a",)]
    started = {a.host: a.dispatched_at for a in store.attempts("r")}
    assert started["a"] == clock.now().replace(hour=8, minute=30)


def test_a_window_beyond_max_wait_leaves_the_run_waiting_not_failed(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With --max-wait shorter than the wait, the run stops as waiting and names host, owner and next opening."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = _with(
        make_plan([[["a", "b"]]], canary=False),
        mode=Mode.REGULAR,
        a={"windows": (MONDAY_0830,), "owner": "web <web@example.org>"},
    )
    orchestrator = _orchestrator(store, executor, clock, tmp_path, max_wait=timedelta(minutes=5))
    report = orchestrator.start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.WAITING
    assert "a (owner web <web@example.org>, next opening 2026-01-05T08:30:00+00:00)" in report.reason
    assert report.failed_hosts == ()
    assert [d.hosts for d in executor.dispatches] == [("b",)]
    clock.advance(30 * 60)
    assert orchestrator.resume("r", CONTENT).succeeded


def test_a_host_whose_expected_duration_does_not_fit_waits_for_a_longer_window(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An expected 2 hours never fits a 1-hour window: the host waits (not within the horizon), it is not failed."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = _with(make_plan([[["a"]]], canary=False), mode=Mode.REGULAR, a={"windows": (MONDAY_0830,)})
    plan = plan.model_copy(update={"expected_duration": timedelta(hours=2)})
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.WAITING
    assert "a (owner unknown, next opening not within the horizon)" in report.reason
    assert executor.dispatches == []


def test_emergency_ignores_windows(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In an emergency the host with a later window is dispatched at once with the others."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = _with(make_plan([[["a", "b"]]], canary=False), a={"windows": (MONDAY_0830,)})
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.succeeded
    assert [d.hosts for d in executor.dispatches] == [("a", "b")]


def test_attempts_record_when_the_host_really_started_and_ended(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An attempt's start and end are its host's own, from the outcome's evidence (20 minutes here)."""
    executor = SimulatedExecutor(clock=clock, durations={"a": 1200.0})
    _orchestrator(store, executor, clock, tmp_path).start(
        make_plan([[["a"]]], canary=False), CONTENT, RunInputs(), run_id="r"
    )
    (attempt,) = store.attempts("r")
    assert attempt.ended is not None
    assert attempt.ended - attempt.started == timedelta(minutes=20)


def test_a_measured_duration_longer_than_the_window_makes_the_host_wait(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A host that took 2 hours last time is not started in a 1-hour window, though the policy expects 10 minutes."""
    executor = SimulatedExecutor(clock=clock, durations={"a": 7200.0})
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    orchestrator.start(make_plan([[["a"]]], canary=False), CONTENT, RunInputs(), run_id="first")
    clock.advance(6 * 24 * 3600)  # Sunday 10:00: the next 1-hour window opens tomorrow at 08:30
    plan = _with(make_plan([[["a"]]], canary=False), mode=Mode.REGULAR, a={"windows": (MONDAY_0830,)})
    report = orchestrator.start(
        plan.model_copy(update={"horizon": timedelta(days=8)}), CONTENT, RunInputs(), run_id="second"
    )
    assert report.state is RunState.WAITING
    assert "a (owner unknown, next opening not within the horizon)" in report.reason


def test_a_failed_member_holds_its_clusters_budget_so_the_next_member_waits(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With room for one member down, a failed member stops the next one from being dispatched: the stage halts."""
    executor = SimulatedExecutor(clock=clock, fail={"a"})
    plan = _with(make_plan([[["a"], ["b"]]], canary=False, failure_budget=3), a={"cluster": "c"}, b={"cluster": "c"})
    plan = plan.model_copy(update={"cluster_room": {"c": 1}})
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.HALTED
    assert "failed cluster members use the whole disruption budget, so b cannot be patched" in report.reason
    assert [d.hosts for d in executor.dispatches] == [("a",)]


def test_an_emergency_run_records_that_windows_are_ignored(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The record of an emergency run says, once, that maintenance windows were ignored; a regular run does not."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    orchestrator.start(make_plan([[["a"]]], canary=False), CONTENT, RunInputs(), run_id="e")
    regular = make_plan([[["b"]]], canary=False).model_copy(update={"mode": Mode.REGULAR})
    orchestrator.start(regular, CONTENT, RunInputs(), run_id="r")
    assert [r.event for r in store.audit_log("e")].count("windows-ignored") == 1
    assert "windows-ignored" not in [r.event for r in store.audit_log("r")]


@dataclass
class _AheadRecorder(SimulatedExecutor):
    """Records each apply call as (hosts, started ahead of its turn); `lost_early` hosts end before their gate once,
    as a playbook whose read-only step failed does, without waiting for the release."""

    calls: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)
    lost_early: set[str] = field(default_factory=set)

    def run_batch(self, request, *, on_event=None, cancelled=None, release=None):  # type: ignore[no-untyped-def]
        if request.phase != "prepare":
            self.calls.append((request.hosts, release is not None))
        if release is not None and set(request.hosts) & self.lost_early:
            self.lost_early -= set(request.hosts)
            lost = tuple(
                HostOutcome(host=h, status=HostStatus.UNREACHABLE, message="ssh: refused") for h in request.hosts
            )
            return BatchOutcome(stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=lost)
        return super().run_batch(request, on_event=on_event, cancelled=cancelled, release=release)


def _one_room_cluster(hosts: list[str], **options: object) -> RolloutPlan:
    plan = _with(make_plan([[[h] for h in hosts]], canary=False, **options), **{h: {"cluster": "c"} for h in hosts})
    return plan.model_copy(update={"cluster_room": {"c": 1}})


def test_the_next_member_of_a_busy_cluster_starts_ahead_and_is_dispatched_only_in_its_turn(
    store, clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """b and c start ahead of their turn, but each is dispatched (intent, update) only after the member before it."""
    executor = _AheadRecorder(clock=clock, durations={"a": 60.0, "b": 60.0, "c": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        _one_room_cluster(["a", "b", "c"]), CONTENT, RunInputs(), run_id="r"
    )
    assert report.succeeded
    assert (("b",), True) in executor.calls
    assert (("c",), True) in executor.calls
    assert [d.hosts for d in executor.dispatches] == [("a",), ("b",), ("c",)]
    attempts = sorted(store.attempts("r"), key=lambda a: a.started)
    assert [a.host for a in attempts] == ["a", "b", "c"]
    assert all(x.ended is not None and x.ended <= y.started for x, y in itertools.pairwise(attempts))
    order = [
        (r.event, tuple(r.data.get("hosts", ()))) for r in store.audit_log("r") if r.event in ("dispatch", "outcomes")
    ]
    assert [e for e, _ in order] == ["dispatch", "outcomes"] * 3


def test_a_host_started_ahead_is_left_untouched_when_the_stage_halts_first(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """a fails and halts the stage while b waits at the gate: b is released with `stop`, never dispatched."""
    executor = _AheadRecorder(clock=clock, fail={"a"}, durations={"a": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        _one_room_cluster(["a", "b"], failure_budget=0), CONTENT, RunInputs(), run_id="r"
    )
    assert report.state is RunState.HALTED
    assert (("b",), True) in executor.calls
    assert [d.hosts for d in executor.dispatches] == [("a",)]
    assert [a.host for a in store.attempts("r")] == ["a"]


def test_a_host_whose_early_playbook_ends_before_its_gate_is_patched_once_in_its_turn(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """b's early playbook ends on its own (a read-only step failed): b is started again in its turn and patched
    once, and no attempt of b is recorded as running while a ran."""
    executor = _AheadRecorder(clock=clock, lost_early={"b"}, durations={"a": 60.0, "b": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        _one_room_cluster(["a", "b"]), CONTENT, RunInputs(), run_id="r"
    )
    assert report.succeeded
    assert executor.calls.count((("b",), True)) == 1
    assert executor.patched == {"a": 1, "b": 1}
    (a,) = [x for x in store.attempts("r") if x.host == "a"]
    assert a.ended is not None
    assert all(b.started >= a.ended for b in store.attempts("r") if b.host == "b")


def test_the_next_stage_s_first_hosts_start_ahead_while_the_last_host_of_a_stage_runs(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """canary, then wave-1 at once (emergency, no soak, no approval): b and c wait at the gate, in the one playbook
    wave-1 starts with, while the canary runs; they are dispatched only once wave-1 has begun."""
    executor = _AheadRecorder(clock=clock, durations={"c1": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        make_plan([[["c1"]], [["b", "c"]]]), CONTENT, RunInputs(), run_id="r"
    )
    assert report.succeeded
    assert executor.calls[0] == (("c1",), False)
    assert [hosts for hosts, ahead in executor.calls if ahead] == [("b", "c")]
    assert executor.dispatches[0].hosts == ("c1",)
    events = [(r.event, r.data.get("stage")) for r in store.audit_log("r") if r.event in ("dispatch", "stage-state")]
    assert events.index(("dispatch", "wave-1")) > events.index(("stage-state", "wave-1"))


def test_nothing_of_the_next_stage_starts_ahead_when_it_needs_an_approval(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """wave-1 waits for an approval: its hosts are not touched, not even their read-only steps, before it is given."""
    executor = _AheadRecorder(clock=clock, durations={"c1": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        make_plan([[["c1"]], [["b"]]], approval={"wave-1"}), CONTENT, RunInputs(), run_id="r"
    )
    assert report.state is RunState.AWAITING_APPROVAL
    assert executor.calls == [(("c1",), False)]


def test_the_next_stage_s_hosts_waiting_at_the_gate_are_left_untouched_when_the_canary_fails(
    store, clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The canary fails and halts the run while b waits at the gate: b is told to stop and never dispatched."""
    executor = _AheadRecorder(clock=clock, fail={"c1"}, durations={"c1": 60.0})
    report = _orchestrator(store, executor, clock, tmp_path).start(
        make_plan([[["c1"]], [["b"]]], failure_budget=0), CONTENT, RunInputs(), run_id="r"
    )
    assert report.state is RunState.HALTED
    assert (("b",), True) in executor.calls
    assert [d.hosts for d in executor.dispatches] == [("c1",)]
    assert [a.host for a in store.attempts("r")] == ["c1"]
