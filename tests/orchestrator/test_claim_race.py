"""Two processes racing for overlapping hosts on one store (SQLite and PostgreSQL): no host is dispatched by both.

Each process drives its own run with a simulated executor whose first batch holds at a barrier until the other
process is in a batch too or has stopped, so the runs overlap for real: whichever claims the shared host first
patches it, the other pauses naming the claim."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from typing import Any

from patchorch.domain.run import RunInputs, RunState
from patchorch.execution.base import BatchRequest
from patchorch.orchestrator.engine import Orchestrator
from patchorch.store.runs import RunStore
from patchorch.testing import SimulatedExecutor
from tests.plans import FakeContent, make_plan

PLANS = {"r1": [[["c", "a"]], [["b"]]], "r2": [[["c", "d"]], [["e"]]]}


class _HeldExecutor(SimulatedExecutor):
    """The simulated role, holding each stage batch at `barrier` (until both processes are in one, or it breaks); a
    batch started ahead of its turn is held once it is released, when it really starts."""

    barrier: Any = None

    def run_batch(self, request: BatchRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        if request.phase != "prepare":
            release = kwargs.get("release")
            if release is None:
                self._hold()
            else:
                kwargs["release"] = lambda: release() and self._hold()
        return super().run_batch(request, **kwargs)

    def _hold(self) -> bool:
        # A broken barrier: the other process stopped, there is nothing to overlap with any more.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=60)
        return True


def _drive(url: str, run_id: str, start: Any, held: Any, results: Any) -> None:
    store = RunStore.open(url, actor=f"operator-{run_id}")
    executor = _HeldExecutor(mean_seconds=0)
    executor.barrier = held
    start.wait(timeout=60)
    try:
        report = Orchestrator(store, executor).start(
            make_plan(PLANS[run_id]), FakeContent(), RunInputs(), run_id=run_id
        )
        results.put((run_id, report.state.value, report.reason))
    finally:
        held.abort()  # release the other process if it waits for this one


def test_two_processes_racing_for_overlapping_hosts_never_dispatch_one_host_twice(store_url: str) -> None:
    """r1 (c, a, b) and r2 (c, d, e) start together: c is dispatched by exactly one run, the other pauses on it."""
    RunStore.open(store_url, actor="setup")
    context = multiprocessing.get_context("spawn")
    start, held, results = context.Barrier(2), context.Barrier(2), context.Queue()
    processes = [context.Process(target=_drive, args=(store_url, run, start, held, results)) for run in PLANS]
    for process in processes:
        process.start()
    outcome = {run: (state, reason) for run, state, reason in (results.get(timeout=120) for _ in processes)}
    for process in processes:
        process.join(timeout=60)
    store = RunStore.open(store_url, actor="check")
    dispatched = {run: {a.host for a in store.attempts(run)} for run in PLANS}
    assert dispatched["r1"] & dispatched["r2"] == set()
    [winner] = [run for run, (state, _reason) in outcome.items() if state == RunState.COMPLETED.value]
    [loser] = set(PLANS) - {winner}
    assert outcome[loser][0] == RunState.PAUSED.value
    assert outcome[loser][1].startswith(f"c is claimed by run {winner} (operator-{winner}, ")
    assert "c" in dispatched[winner]
    assert store.claims() == []
    assert store.verify_audit() > 0
