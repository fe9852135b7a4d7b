"""Run locks in the store: one process drives a run; another (another state directory, another machine) is refused
naming the holder until the lease expires, and a taken-over lock is recorded; racing processes never both get it."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest

from patchorch.errors import RunLockedError
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock

LEASE = timedelta(seconds=60)
ELSEWHERE = "bastion-2.example.org:4242"


@pytest.fixture
def clock() -> FakeClock:
    """The store's clock."""
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> RunStore:
    """A fresh store on SQLite and on PostgreSQL."""
    return RunStore.open(store_url, actor="alice@bastion", clock=clock)


def test_locked_run_is_refused_naming_the_holder(store: RunStore) -> None:
    """A second process cannot lock r1: the error names owner, process, since when and the lease's end."""
    store.lock_run("r1", holder=ELSEWHERE, lease=LEASE)
    with pytest.raises(RunLockedError) as caught:
        store.lock_run("r1", holder="here:1", lease=LEASE)
    assert str(caught.value) == (
        f"run r1 is being driven by alice@bastion ({ELSEWHERE}) since 2026-01-05T08:00:00+00:00, "
        "lease until 2026-01-05T08:01:00+00:00"
    )


def test_heartbeat_keeps_the_lock_past_its_first_lease(store: RunStore, clock: FakeClock) -> None:
    """A holder that renews keeps the run after the first lease would have ended."""
    store.lock_run("r1", holder=ELSEWHERE, lease=LEASE)
    clock.advance(45)
    assert store.renew_run_lock("r1", holder=ELSEWHERE, lease=LEASE)
    clock.advance(45)
    with pytest.raises(RunLockedError):
        store.lock_run("r1", holder="here:1", lease=LEASE)


def test_expired_lock_is_taken_over_and_recorded(store: RunStore, clock: FakeClock) -> None:
    """Once the holder stopped renewing (kill -9) and the lease ran out, another process takes the run over."""
    store.lock_run("r1", holder=ELSEWHERE, lease=LEASE)
    clock.advance(LEASE.total_seconds() + 1)
    store.lock_run("r1", holder="here:1", lease=LEASE)
    assert not store.renew_run_lock("r1", holder=ELSEWHERE, lease=LEASE)  # the old holder lost it
    record = store.audit_log()[-1]
    assert (record.event, record.data["from"]["holder"]) == ("run-lock-taken-over", ELSEWHERE)
    assert store.verify_audit() == 1


def test_released_lock_is_free_at_once(store: RunStore) -> None:
    """A holder that finished releases the run: the next process locks it without waiting."""
    store.lock_run("r1", holder=ELSEWHERE, lease=LEASE)
    store.unlock_run("r1", holder="here:1")  # not the holder: nothing happens
    with pytest.raises(RunLockedError):
        store.lock_run("r1", holder="here:1", lease=LEASE)
    store.unlock_run("r1", holder=ELSEWHERE)
    store.lock_run("r1", holder="here:1", lease=LEASE)


def _lock_at_the_barrier(url: str, holder: str, barrier: object, results: object) -> None:
    store = RunStore.open(url, actor=holder)
    barrier.wait(timeout=60)  # type: ignore[attr-defined]
    try:
        store.lock_run("r1", holder=holder, lease=LEASE)
        results.put((holder, "locked"))  # type: ignore[attr-defined]
    except RunLockedError as exc:
        results.put((holder, str(exc)))  # type: ignore[attr-defined]


def test_processes_racing_for_one_run_never_both_lock_it(store_url: str) -> None:
    """Three processes released together lock r1: exactly one gets it, the others are told who has it."""
    RunStore.open(store_url, actor="setup")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    holders = [f"box-{n}:{n}" for n in (1, 2, 3)]
    processes = [context.Process(target=_lock_at_the_barrier, args=(store_url, h, barrier, results)) for h in holders]
    for process in processes:
        process.start()
    outcome = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    winners = [h for h, said in outcome.items() if said == "locked"]
    assert len(winners) == 1, outcome
    assert all(
        said.startswith(f"run r1 is being driven by {winners[0]} ({winners[0]})")
        for h, said in outcome.items()
        if h not in winners
    )
