"""Host claims and run locks in a rollout: a host another run holds is never dispatched; the run pauses naming the
claim (or, with a claim wait, waits on the clock for it) and goes on once the lease has expired; recorded hosts are
released. A run another process drives cannot be resumed until that process's lock lease has expired."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from patchorch.domain.run import RunInputs, RunState
from patchorch.errors import RunLockedError
from patchorch.orchestrator.claims import HostClaims
from patchorch.orchestrator.engine import Orchestrator
from patchorch.orchestrator.locks import RUN_LOCK_LEASE, RunLock
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan

CONTENT = FakeContent()
LEASE = timedelta(minutes=10)


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when slept on or advanced."""
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock, store_url: str) -> RunStore:
    """A fresh store on the fake clock, on SQLite and on PostgreSQL."""
    return RunStore.open(store_url, actor="bob@bastion", clock=clock)


def test_host_held_by_another_run_is_not_dispatched_and_the_run_pauses(
    store: RunStore, clock: FakeClock, tmp_path: Path
) -> None:
    """Run r2 reaches host b, which run r1 (another machine) holds: b is not dispatched and r2 pauses naming r1."""
    HostClaims(store, lease=LEASE, holder="bastion-2:77").claim("r1", ["b"])
    executor = SimulatedExecutor(clock=clock)
    orchestrator = Orchestrator(store, executor, clock=clock, claim_lease=LEASE)
    report = orchestrator.start(make_plan([[["a"]], [["b", "c"]]]), CONTENT, RunInputs(), run_id="r2")
    assert report.state is RunState.PAUSED
    assert report.reason.startswith("b is claimed by run r1 (bob@bastion, bastion-2:77) since")
    assert executor.dispatch_count("b") == 0
    assert {a.host for a in store.attempts("r2")} == {"a"}
    assert [(c.host, c.run_id) for c in store.claims()] == [("b", "r1")]  # a was released once recorded

    clock.advance(LEASE.total_seconds() + 1)
    report = orchestrator.resume("r2", CONTENT)
    assert report.state is RunState.COMPLETED, report.reason
    assert executor.dispatch_count("b") == 1
    assert store.claims() == []
    assert store.verify_audit() > 0


def _paused_by_a_claim(store: RunStore, clock: FakeClock, executor: SimulatedExecutor) -> Orchestrator:
    """Run r2 paused at host b, which run r1 of another machine holds; the orchestrator that drove r2."""
    HostClaims(store, lease=LEASE, holder="bastion-2:77").claim("r1", ["b"])
    orchestrator = Orchestrator(store, executor, clock=clock, claim_lease=LEASE)
    report = orchestrator.start(make_plan([[["a"]], [["b"]]]), CONTENT, RunInputs(), run_id="r2")
    assert report.state is RunState.PAUSED
    return orchestrator


def test_with_a_claim_wait_the_run_waits_for_the_lease_then_goes_on(store: RunStore, clock: FakeClock) -> None:
    """With claim_wait longer than the lease, r2 waits on the clock (recorded) and patches b once r1's lease ends."""
    HostClaims(store, lease=LEASE, holder="bastion-2:77").claim("r1", ["b"])
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    orchestrator = Orchestrator(store, executor, clock=clock, claim_lease=LEASE, claim_wait=timedelta(minutes=15))
    start = clock.now()
    report = orchestrator.start(make_plan([[["a"]], [["b", "c"]]]), CONTENT, RunInputs(), run_id="r2")
    assert report.state is RunState.COMPLETED, report.reason
    assert executor.dispatch_count("b") == 1
    assert clock.now() - start >= LEASE  # waited on the injected clock, to the lease's end
    [wait] = [r.data for r in store.audit_log("r2") if r.event == "claim-wait"]
    assert wait["host"] == "b"
    assert wait["claim"].startswith("b is claimed by run r1")
    assert [d.hosts for d in executor.dispatches][:2] == [("a",), ("c",)]  # c did not wait for b


def test_claim_wait_is_bounded_then_the_run_pauses(store: RunStore, clock: FakeClock) -> None:
    """A claim wait shorter than the lease ends in a pause that says how long it waited; b is never dispatched."""
    HostClaims(store, lease=LEASE, holder="bastion-2:77").claim("r1", ["b"])
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    orchestrator = Orchestrator(store, executor, clock=clock, claim_lease=LEASE, claim_wait=timedelta(minutes=5))
    start = clock.now()
    report = orchestrator.start(make_plan([[["a"]], [["b"]]]), CONTENT, RunInputs(), run_id="r2")
    assert report.state is RunState.PAUSED
    assert report.reason.startswith("b is claimed by run r1")
    assert report.reason.endswith("; waited 0:05:00 (--wait-for-claims) for it")
    assert timedelta(minutes=5) <= clock.now() - start < LEASE
    assert executor.dispatch_count("b") == 0


def test_resume_is_refused_while_another_process_drives_the_run(store: RunStore, clock: FakeClock) -> None:
    """Another process (another state directory or machine) holds r2's lock: resume is refused naming it, and
    dispatches nothing."""
    executor = SimulatedExecutor(clock=clock)
    orchestrator = _paused_by_a_claim(store, clock, executor)
    RunLock(store, clock, holder="bastion-3:99").acquire("r2")
    clock.advance(LEASE.total_seconds() + 1)  # r1's claim on b is gone; only the lock stands in the way
    RunLock(store, clock, holder="bastion-3:99").acquire("r2")  # its heartbeat renews it
    with pytest.raises(RunLockedError, match=r"run r2 is being driven by bob@bastion \(bastion-3:99\) since"):
        orchestrator.resume("r2", CONTENT)
    assert executor.dispatch_count("b") == 0


def test_resume_takes_over_a_dead_processs_lock_only_once_its_lease_expired(store: RunStore, clock: FakeClock) -> None:
    """A driver killed with -9 leaves its lock; resume with a claim wait waits on the clock for the lease to end,
    then takes the run over (recorded) and finishes it."""
    executor = SimulatedExecutor(clock=clock)
    orchestrator = _paused_by_a_claim(store, clock, executor)
    clock.advance(LEASE.total_seconds() + 1)
    RunLock(store, clock, holder="bastion-3:99").acquire("r2")  # then it died: no heartbeat, no release
    waiting = Orchestrator(store, executor, clock=clock, claim_lease=LEASE, claim_wait=timedelta(minutes=2))
    locked_at = clock.now()
    report = waiting.resume("r2", CONTENT)
    assert report.state is RunState.COMPLETED, report.reason
    assert clock.now() - locked_at > RUN_LOCK_LEASE
    [taken] = [r.data for r in store.audit_log("r2") if r.event == "run-lock-taken-over"]
    assert taken["from"]["holder"] == "bastion-3:99"
    assert orchestrator.store.claims() == []
