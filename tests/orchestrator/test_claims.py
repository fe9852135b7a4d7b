"""Host claims in a rollout: a host another run holds is never dispatched; the run pauses naming the claim and goes
on once the lease has expired; recorded hosts are released."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.claims import HostClaims
from patchorch.orchestrator.engine import Orchestrator
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
