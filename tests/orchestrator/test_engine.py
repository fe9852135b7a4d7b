"""The orchestrator's gates, retries, approvals and resume, driven by the simulated executor and a fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from patchorch.domain.outcomes import HostStatus
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.errors import RunStateError
from patchorch.orchestrator.engine import Orchestrator
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan

CONTENT = FakeContent()


def _orchestrator(store: RunStore, executor: SimulatedExecutor, clock: FakeClock, tmp_path: Path) -> Orchestrator:
    return Orchestrator(store, executor, clock=clock)


def test_full_rollout_patches_every_host_and_records_versions(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every target ends patched, with versions before and after recorded."""
    executor = SimulatedExecutor(clock=clock)
    plan = make_plan([[["c1"]], [["a", "b"], ["d"]]])
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.COMPLETED
    assert report.succeeded
    attempts = store.attempts("r")
    assert sorted(a.host for a in attempts) == ["a", "b", "c1", "d"]
    for attempt in attempts:
        assert attempt.outcome is not None
        assert attempt.outcome.versions_before == {"acme-mta": "1.0-1"}
        assert attempt.outcome.versions_after == {"acme-mta": "1.0-2"}
    assert [s.state for s in store.stages("r")] == [StageState.COMPLETED, StageState.COMPLETED]
    assert store.verify_audit() > 0


def test_failed_canary_halts_before_any_wave(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A canary whose health check fails halts the run; no wave host is dispatched."""
    executor = SimulatedExecutor(clock=clock, fail_health={"c1"})
    plan = make_plan([[["c1"]], [["a", "b"]]], failure_budget=5)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.HALTED
    assert "canary failed on c1" in report.reason
    assert [d.hosts for d in executor.dispatches] == [("c1",)]
    assert store.stages("r")[0].state is StageState.HALTED


def test_unreachable_host_is_retried_then_counted_against_the_budget(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only the unreachable host is retried, each attempt recorded; when retries run out it spends the budget."""
    executor = SimulatedExecutor(clock=clock, unreachable={"b": 5}, mean_seconds=0)
    plan = make_plan([[["c1"]], [["a", "b"]], [["d"]]], failure_budget=0, retries=2, backoff=10)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert [d.hosts for d in executor.dispatches] == [("c1",), ("a", "b"), ("b",), ("b",)]
    b_attempts = [a for a in store.attempts("r") if a.host == "b"]
    assert [(a.attempt, a.status) for a in b_attempts] == [(1, HostStatus.UNREACHABLE)] * 1 + [
        (2, HostStatus.UNREACHABLE),
        (3, HostStatus.UNREACHABLE),
    ]
    assert clock.sleeps == [10.0, 20.0]  # exponential back-off through the injected clock
    assert report.state is RunState.HALTED
    assert "d" not in [h for d in executor.dispatches for h in d.hosts]


def test_unreachable_host_that_comes_back_is_patched(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A host unreachable on the first attempt and reachable on the second ends patched."""
    executor = SimulatedExecutor(clock=clock, unreachable={"b": 1}, mean_seconds=0)
    plan = make_plan([[["a", "b"]]], canary=False, failure_budget=0)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.COMPLETED
    assert report.hosts["b"] is HostStatus.PATCHED


def test_failure_budget_counts_across_batches(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Failures of separate dispatches add up; the completion that exceeds the budget stops dispatching."""
    executor = SimulatedExecutor(clock=clock, fail={"a", "c"})
    plan = make_plan([[["a"], ["b"], ["c"], ["d"]]], canary=False, failure_budget=1, concurrency=1)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.HALTED
    assert [d.hosts for d in executor.dispatches] == [("a",), ("b",), ("c",)]
    assert "more than the failure budget of 1" in report.reason


def test_approval_pauses_and_resume_continues(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A stage that needs approval stops the run until someone approves and resumes it."""
    executor = SimulatedExecutor(clock=clock)
    plan = make_plan([[["c1"]], [["a"]]], approval={"wave-1"})
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    report = orchestrator.start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.AWAITING_APPROVAL
    assert [d.hosts for d in executor.dispatches] == [("c1",)]
    record = orchestrator.approve("r", "alice", comment="change 42")
    assert record.stage == "wave-1"
    report = orchestrator.resume("r", CONTENT)
    assert report.state is RunState.COMPLETED
    assert [d.hosts for d in executor.dispatches] == [("c1",), ("a",)]
    assert [a.approver for a in store.approvals("r")] == ["alice"]


def test_soak_waits_on_the_clock_between_stages(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The next stage starts only after the previous stage's soak time, waited on the injected clock."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = make_plan([[["c1"]], [["a"]]], soak=timedelta(minutes=15))
    _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert clock.sleeps == [900.0]
    canary, wave = store.stages("r")
    assert canary.soak_until is not None
    assert wave.started_at is not None
    assert wave.started_at >= canary.soak_until


def test_interrupt_records_proven_outcomes_and_resume_patches_nothing_twice(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C mid-batch: finished hosts keep their outcomes, the rest are reconciled, none is patched twice."""
    executor = SimulatedExecutor(clock=clock, interrupt_after=1)
    plan = make_plan([[["c1"]], [["a", "b", "c", "d"]]], failure_budget=0)
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.start(plan, CONTENT, RunInputs(), run_id="r")
    assert store.run("r").state is RunState.INTERRUPTED
    assert store.stages("r")[1].state is StageState.CANCELLED
    open_intents = [a.host for a in store.attempts("r") if a.status is None]
    assert open_intents == ["c", "d"]
    report = orchestrator.resume("r", CONTENT)
    assert report.state is RunState.COMPLETED
    assert all(count == 1 for count in executor.patched.values())
    assert sorted(executor.patched) == ["a", "b", "c", "c1", "d"]
    assert [a.host for a in store.attempts("r") if a.status is None] == []
    assert store.verify_audit() > 0


def test_lost_results_pause_the_run(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A host with no evidence of its outcome pauses the run instead of letting it proceed."""

    class LosingExecutor(SimulatedExecutor):
        def run_batch(self, request, *, on_event=None, cancelled=None, release=None):  # type: ignore[no-untyped-def]
            outcome = super().run_batch(request, on_event=on_event, cancelled=cancelled, release=release)
            if request.phase == "prepare":
                return outcome
            lost = tuple(o.model_copy(update={"status": HostStatus.UNKNOWN}) if o.host == "b" else o for o in outcome)
            return outcome.model_copy(update={"outcomes": lost})

    executor = LosingExecutor(clock=clock)
    plan = make_plan([[["a", "b"]], [["c"]]], canary=False)
    report = _orchestrator(store, executor, clock, tmp_path).start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.PAUSED
    assert "no outcome recorded for b" in report.reason
    assert ("c",) not in [d.hosts for d in executor.dispatches]


def test_resume_after_halt_acknowledges_failures_and_does_not_redispatch_them(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Resuming a halted run continues with the remaining hosts; the failed host is not patched again."""
    executor = SimulatedExecutor(clock=clock, fail={"a"})
    plan = make_plan([[["a"], ["b"]]], canary=False, failure_budget=0, concurrency=1)
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    assert orchestrator.start(plan, CONTENT, RunInputs(), run_id="r").state is RunState.HALTED
    report = orchestrator.resume("r", CONTENT)
    assert report.state is RunState.COMPLETED
    assert [d.hosts for d in executor.dispatches] == [("a",), ("b",)]
    assert report.failed_hosts == ("a",)


def test_completed_run_cannot_be_resumed(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Resume refuses a run that already completed."""
    executor = SimulatedExecutor(clock=clock)
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    orchestrator.start(make_plan([[["a"]]], canary=False), CONTENT, RunInputs(), run_id="r")
    with pytest.raises(RunStateError, match="completed"):
        orchestrator.resume("r", CONTENT)


def test_aborted_run_dispatches_nothing_more(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Aborting a halted run cancels its stages and makes resume refuse."""
    executor = SimulatedExecutor(clock=clock, fail={"c1"})
    orchestrator = _orchestrator(store, executor, clock, tmp_path)
    orchestrator.start(make_plan([[["c1"]], [["a"]]]), CONTENT, RunInputs(), run_id="r")
    orchestrator.abort("r", "bad patch")
    assert store.run("r").state is RunState.ABORTED
    assert [s.state for s in store.stages("r")] == [StageState.CANCELLED, StageState.CANCELLED]
    with pytest.raises(RunStateError):
        orchestrator.resume("r", CONTENT)


def test_wait_longer_than_max_wait_leaves_the_run_waiting_until_resumed(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A soak longer than max_wait stops the run in 'waiting' with the time to resume; resume then finishes it."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = make_plan([[["c1"]], [["a"]]], soak=timedelta(hours=2))
    orchestrator = Orchestrator(store, executor, clock=clock, max_wait=timedelta(hours=1))
    report = orchestrator.start(plan, CONTENT, RunInputs(), run_id="r")
    assert report.state is RunState.WAITING
    assert "resume at or after" in report.reason
    assert clock.sleeps == []
    assert [d.hosts for d in executor.dispatches] == [("c1",)]
    clock.advance(2 * 3600)
    report = orchestrator.resume("r", CONTENT)
    assert report.state is RunState.COMPLETED
    assert [d.hosts for d in executor.dispatches] == [("c1",), ("a",)]


def test_wait_within_max_wait_is_slept_in_process(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A soak shorter than max_wait is waited on the clock and the run completes in one go."""
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    plan = make_plan([[["c1"]], [["a"]]], soak=timedelta(minutes=10))
    orchestrator = Orchestrator(store, executor, clock=clock, max_wait=timedelta(hours=1))
    assert orchestrator.start(plan, CONTENT, RunInputs(), run_id="r").state is RunState.COMPLETED
    assert clock.sleeps == [600.0]


def test_observer_added_after_construction_sees_every_batch(store, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An observer added once the plan is known (the CLI's progress display) receives each batch's outcomes."""
    from patchorch.orchestrator.observers import Observer

    seen: list[str] = []

    class Collect(Observer):
        def batch_finished(self, run_id, stage, outcome):  # type: ignore[no-untyped-def]
            seen.extend(o.host for o in outcome.outcomes)

    orchestrator = _orchestrator(store, SimulatedExecutor(clock=clock), clock, tmp_path)
    orchestrator.add_observer(Collect())
    orchestrator.start(make_plan([[["c1"]], [["a", "b"]]]), CONTENT, RunInputs(), run_id="r")
    assert seen == ["c1", "a", "b"]
