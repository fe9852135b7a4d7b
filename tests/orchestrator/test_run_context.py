"""One drive of a run works from what it holds: a start reads back nothing it just wrote, a resume reads the plan and
the attempts once, and the attempts it holds stay exactly what the store recorded."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.engine import Orchestrator
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan

CONTENT = FakeContent()
# Three stages, five batches: a store read per batch would show as several reads.
STAGES = [[["c1"]], [["a", "b"], ["d"]], [["e"], ["f", "g"]]]


def _counting(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the store's reads of a run's plan, attempts and audit log."""
    calls: Counter[str] = Counter()
    for name in ("plan", "attempts", "audit_log"):
        original = getattr(store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


def test_a_start_reads_back_neither_its_plan_nor_a_batchs_attempts(
    store: RunStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five batches over three stages: the plan is never read back, the attempts once (the durations measured in the
    store's runs, this one included) and the audit log once (what the prepare phase already did)."""
    calls = _counting(store, monkeypatch)
    report = Orchestrator(store, SimulatedExecutor(clock=clock), clock=clock).start(
        make_plan(STAGES), CONTENT, RunInputs(), run_id="r"
    )
    assert report.state is RunState.COMPLETED, report.reason
    assert calls == Counter({"attempts": 1, "audit_log": 1})


def test_a_resume_reads_the_plan_and_attempts_once(
    store: RunStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run halted by its failed canary, resumed with the failure retried: one read of the plan, one of the attempts
    for the drive (and one per run for the measured durations), whatever the number of batches."""
    orchestrator = Orchestrator(store, SimulatedExecutor(clock=clock, fail={"c1"}), clock=clock)
    assert orchestrator.start(make_plan(STAGES), CONTENT, RunInputs(), run_id="r").state is RunState.HALTED
    orchestrator.executor = SimulatedExecutor(clock=clock)
    calls = _counting(store, monkeypatch)
    report = orchestrator.resume("r", CONTENT, retry_failed=True)
    assert report.state is RunState.COMPLETED, report.reason
    assert calls == Counter({"plan": 1, "attempts": 2, "audit_log": 1})


def test_the_attempts_a_drive_holds_are_the_stores(store: RunStore, clock: FakeClock) -> None:
    """After a run with a failure, a retry and a resume, the report the drive built from its own attempts equals the
    one built from the store's."""
    orchestrator = Orchestrator(store, SimulatedExecutor(clock=clock, fail={"a"}), clock=clock)
    first = orchestrator.start(make_plan(STAGES, failure_budget=0), CONTENT, RunInputs(), run_id="r")
    assert first.state is RunState.HALTED
    assert first == orchestrator.report("r")
    orchestrator.executor = SimulatedExecutor(clock=clock)
    resumed = orchestrator.resume("r", CONTENT, retry_failed=True)
    assert resumed.state is RunState.COMPLETED, resumed.reason
    assert resumed == orchestrator.report("r")
