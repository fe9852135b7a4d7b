"""Host claims in the store: a lease per host with an owner and a holder process; another run is refused until the
lease expires, even when its holder is known dead; the run's lock holder adopts its own run's claims; claims are
covered by the audit chain; racing processes never share a host."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from patchorch.errors import AuditChainError, HostClaimedError, RunLockedError
from patchorch.store.runs import RunStore, claims
from patchorch.testing import FakeClock

LEASE = timedelta(minutes=10)
ELSEWHERE = "bastion-2.example.org:4242"  # a process on another machine: only its lease says it is gone


@pytest.fixture
def clock() -> FakeClock:
    """The store's clock."""
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> RunStore:
    """A fresh store on SQLite and on PostgreSQL."""
    return RunStore.open(store_url, actor="alice@bastion", clock=clock)


def test_host_claimed_by_another_run_is_refused_naming_the_claim(store: RunStore) -> None:
    """A second run cannot claim imap1 while the first holds it: the error names host, run, owner and since when."""
    store.claim_hosts("r1", ["imap1", "mx1"], holder=ELSEWHERE, lease=LEASE)
    with pytest.raises(HostClaimedError) as caught:
        store.claim_hosts("r2", ["relay1", "imap1"], holder="here:1", lease=LEASE)
    message = str(caught.value)
    assert message.startswith(f"imap1 is claimed by run r1 (alice@bastion, {ELSEWHERE}) since 2026-01-05T08:00:00")
    assert "lease until 2026-01-05T08:10:00" in message
    assert {c.host: c.run_id for c in store.claims()} == {"imap1": "r1", "mx1": "r1"}  # r2 claimed nothing


def test_expired_lease_is_taken_over_and_recorded(store: RunStore, clock: FakeClock) -> None:
    """Once the lease has run out a second run takes the host, and the audit record names whom it took it from."""
    store.claim_hosts("r1", ["imap1"], holder=ELSEWHERE, lease=LEASE)
    clock.advance(LEASE.total_seconds() + 1)
    store.claim_hosts("r2", ["imap1"], holder="here:1", lease=LEASE)
    assert [(c.host, c.run_id) for c in store.claims()] == [("imap1", "r2")]
    assert store.audit_log()[-1].data["taken_over"] == {
        "imap1": {"run": "r1", "owner": "alice@bastion", "holder": ELSEWHERE}
    }


def test_heartbeat_keeps_the_claim(store: RunStore, clock: FakeClock) -> None:
    """A holder that renews its lease keeps the host past the first lease's end."""
    store.claim_hosts("r1", ["imap1"], holder=ELSEWHERE, lease=LEASE)
    clock.advance(LEASE.total_seconds() - 60)
    assert store.renew_claims("r1", holder=ELSEWHERE, lease=LEASE) == 1
    clock.advance(120)
    with pytest.raises(HostClaimedError):
        store.claim_hosts("r2", ["imap1"], holder="here:1", lease=LEASE)


def test_resume_from_another_machine_waits_for_the_lease(store: RunStore) -> None:
    """The same run driven from another live process is refused until the lease expires."""
    store.claim_hosts("r1", ["imap1"], holder=ELSEWHERE, lease=LEASE)
    with pytest.raises(HostClaimedError, match="claimed by another process of this run"):
        store.claim_hosts("r1", ["imap1"], holder="here:1", lease=LEASE)


def test_claim_of_a_dead_run_is_kept_until_its_lease_expires(store: RunStore, clock: FakeClock) -> None:
    """A run on this machine killed with -9 keeps its hosts until the lease runs out: its playbook may still run."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    store.claim_hosts("r1", ["imap1"], holder=f"{socket.gethostname()}:{process.pid}", lease=LEASE)
    with pytest.raises(HostClaimedError, match="imap1 is claimed by run r1"):
        store.claim_hosts("r2", ["imap1"], holder="here:1", lease=LEASE)
    clock.advance(LEASE.total_seconds() + 1)
    store.claim_hosts("r2", ["imap1"], holder="here:1", lease=LEASE)
    assert [(c.run_id, c.holder) for c in store.claims()] == [("r2", "here:1")]


def test_resume_holding_the_run_lock_adopts_the_runs_claims(store: RunStore) -> None:
    """The process that took the run's lock over takes its hosts too, without waiting for their leases."""
    store.claim_hosts("r1", ["imap1"], holder=ELSEWHERE, lease=LEASE)
    store.lock_run("r1", holder="here:1", lease=LEASE)  # no lock row was left: the first process never locked
    store.claim_hosts("r1", ["imap1"], holder="here:1", lease=LEASE)
    assert [c.holder for c in store.claims()] == ["here:1"]
    assert store.audit_log()[-1].data["taken_over"]["imap1"]["holder"] == ELSEWHERE


def test_holder_that_lost_the_run_lock_claims_nothing(store: RunStore) -> None:
    """A process whose run is now locked by another process is refused any claim for that run."""
    store.lock_run("r1", holder="here:1", lease=LEASE)
    with pytest.raises(RunLockedError, match="run r1 is now driven by here:1"):
        store.claim_hosts("r1", ["imap1"], holder=ELSEWHERE, lease=LEASE)
    assert store.claims() == []


def test_claims_are_covered_by_the_audit_chain(store: RunStore, clock: FakeClock) -> None:
    """Claim, heartbeat and release leave the chain verifying; a claim's owner edited by hand breaks it."""
    store.claim_hosts("r1", ["imap1", "mx1"], holder=ELSEWHERE, lease=LEASE)
    clock.advance(60)
    store.renew_claims("r1", holder=ELSEWHERE, lease=LEASE)
    store.release_hosts("r1", ["mx1"], holder=ELSEWHERE)
    assert store.verify_audit() == 2
    assert [c.host for c in store.claims()] == ["imap1"]
    with store.engine.begin() as conn:
        conn.execute(update(claims).values(owner="mallory"))
    with pytest.raises(AuditChainError, match="claim of imap1 does not match audit record 1"):
        store.verify_audit()


def _claim_at_the_barrier(url: str, run_id: str, hosts: list[str], barrier: object, results: object) -> None:
    store = RunStore.open(url, actor=run_id)
    barrier.wait(timeout=60)  # type: ignore[attr-defined]
    try:
        store.claim_hosts(run_id, hosts, holder=f"elsewhere:{run_id}", lease=LEASE)
        results.put((run_id, "claimed"))  # type: ignore[attr-defined]
    except HostClaimedError as exc:
        results.put((run_id, str(exc)))  # type: ignore[attr-defined]


def test_processes_racing_for_overlapping_hosts_never_share_one(store_url: str) -> None:
    """Two processes released together claim a-b-c and c-d-e: exactly one wins, the other claims nothing."""
    RunStore.open(store_url, actor="setup")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    wanted = {"r1": ["a", "b", "c"], "r2": ["c", "d", "e"]}
    processes = [
        context.Process(target=_claim_at_the_barrier, args=(store_url, run, hosts, barrier, results))
        for run, hosts in wanted.items()
    ]
    for process in processes:
        process.start()
    outcome = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    winners = [run for run, said in outcome.items() if said == "claimed"]
    assert len(winners) == 1, outcome
    [loser] = set(wanted) - set(winners)
    assert outcome[loser].startswith(f"c is claimed by run {winners[0]}")
    held = {c.host: c.run_id for c in RunStore.open(store_url, actor="check").claims()}
    assert held == dict.fromkeys(wanted[winners[0]], winners[0])
