"""The public test doubles, used as a library user would: only `patchorch` and `patchorch.testing` are imported."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import patchorch
from patchorch.testing import FakeClock, FakeContent, MockExecutor, RecordingObserver, memory_store

INVENTORY = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"
UPDATE = patchorch.UpdateSpec(scope=patchorch.UpdateScope.PACKAGES, packages=(patchorch.PackageSpec(name="acme-mta"),))


def _answer(request: patchorch.BatchRequest, failing: frozenset[str] = frozenset()) -> patchorch.BatchOutcome:
    """Prepare every host; patch every host of an apply batch except the `failing` ones."""
    outcomes = []
    for host in request.hosts:
        if request.phase == "prepare":
            outcomes.append(patchorch.HostOutcome(host=host, status=patchorch.HostStatus.UNCHANGED))
        elif host in failing:
            outcome = patchorch.HostOutcome(
                host=host, status=patchorch.HostStatus.FAILED, failed_step="update", message="dpkg error"
            )
            outcomes.append(outcome)
        else:
            versions = {"versions_before": {"acme-mta": "1.0-1"}, "versions_after": {"acme-mta": "1.0-2"}}
            outcomes.append(
                patchorch.HostOutcome(host=host, status=patchorch.HostStatus.PATCHED, changed=True, **versions)
            )
    return patchorch.BatchOutcome(
        stage=request.stage, batch=request.batch, attempt=request.attempt, outcomes=tuple(outcomes)
    )


def _workspace(tmp_path: Path, executor: MockExecutor, recorder: RecordingObserver) -> patchorch.Workspace:
    return patchorch.Workspace.open(
        tmp_path / "state", actor="test", executor=executor, clock=FakeClock(), observers=[recorder]
    )


def test_a_rollout_driven_by_a_handler_patches_every_target(tmp_path: Path) -> None:
    """A workspace on a MockExecutor completes the rollout with the handler's outcomes, prepare phase first."""
    executor = MockExecutor(_answer)
    workspace = _workspace(tmp_path, executor, RecordingObserver())
    plan = workspace.plan([INVENTORY], emergency=True, update=UPDATE)
    report = workspace.start(plan, inventory=[INVENTORY])
    assert report.state is patchorch.RunState.COMPLETED, report.reason
    assert sorted(report.patched_hosts) == sorted(plan.targets)
    assert executor.requests[0].phase == "prepare"
    assert sorted(h for r in executor.requests[1:] for h in r.hosts) == sorted(plan.targets)


def test_recording_observer_sees_each_stage_start_and_finish_in_plan_order(tmp_path: Path) -> None:
    """Every stage is seen starting, then finishing (soaking where the plan soaks before the next), in plan order."""
    recorder = RecordingObserver()
    workspace = _workspace(tmp_path, MockExecutor(_answer), recorder)
    plan = workspace.plan([INVENTORY], emergency=True, update=UPDATE)
    workspace.start(plan, inventory=[INVENTORY])
    stage_events = [(e.name, e.data["stage"].name) for e in recorder.events if e.name.startswith("stage_")]  # type: ignore[attr-defined]
    assert stage_events == [(kind, s.name) for s in plan.stages for kind in ("stage_started", "stage_finished")]
    soaking = {s.name for s in plan.stages[:-1] if s.soak}  # the last stage has no next stage to soak before
    expected = [
        patchorch.StageState.SOAKING if s.name in soaking else patchorch.StageState.COMPLETED for s in plan.stages
    ]
    assert [e["state"] for e in recorder.of("stage_finished")] == expected


def test_recording_observer_sees_one_host_event_per_host_outcome(tmp_path: Path) -> None:
    """The host events the recorder keeps name every target once as changed, and the prepare phase's hosts as ok."""
    recorder = RecordingObserver()
    workspace = _workspace(tmp_path, MockExecutor(_answer), recorder)
    plan = workspace.plan([INVENTORY], emergency=True, update=UPDATE)
    workspace.start(plan, inventory=[INVENTORY])
    changed = [e.host for e in recorder.host_events if e.status == "changed"]
    ok = [e.host for e in recorder.host_events if e.status == "ok"]
    assert sorted(changed) == sorted(plan.targets)
    assert sorted(ok) == sorted(plan.targets)  # the prepare phase answered UNCHANGED for each


def test_a_failing_canary_from_the_handler_halts_the_run_and_the_gate_is_recorded(tmp_path: Path) -> None:
    """A canary the handler fails halts the run; the recorder holds the gate's decision and no wave started."""
    recorder = RecordingObserver()
    workspace = _workspace(tmp_path, MockExecutor(lambda r: _answer(r, canary)), recorder)
    plan = workspace.plan([INVENTORY], emergency=True, update=UPDATE)
    canary = frozenset(plan.stages[0].hosts)
    report = workspace.start(plan, inventory=[INVENTORY])
    assert report.state is patchorch.RunState.HALTED
    assert [e["stage"].name for e in recorder.of("stage_started")] == [plan.stages[0].name]  # type: ignore[attr-defined]
    assert recorder.of("gate")[0]["decision"].verdict is patchorch.Verdict.HALT  # type: ignore[attr-defined]


def test_fake_content_and_run_inputs_drive_the_orchestrator_on_a_memory_store() -> None:
    """The public fake content and RunInputs are enough to run a plan with Orchestrator directly."""
    clock = FakeClock()
    store = memory_store(clock=clock)
    plan = patchorch.plan_rollout([INVENTORY], emergency=True, update=UPDATE, now=clock.now())
    content: patchorch.StageContent = FakeContent()
    orchestrator = patchorch.Orchestrator(store, MockExecutor(_answer), clock=clock)
    report = orchestrator.start(plan, content, patchorch.RunInputs(), run_id="r1")
    assert report.state is patchorch.RunState.COMPLETED, report.reason
    assert sorted(a.host for a in store.attempts("r1")) == sorted(plan.targets)


def _request(hosts: tuple[str, ...]) -> patchorch.BatchRequest:
    return patchorch.BatchRequest(
        run_id="r", stage="canary", batch=1, attempt=1, hosts=hosts, playbook=Path("x.yml"), inventory=()
    )


def test_mock_executor_rejects_an_answer_for_other_hosts() -> None:
    """A handler that answers for hosts it was not asked about fails the test at once, naming both host lists."""
    executor = MockExecutor(lambda r: _answer(_request(("mx9",))))
    with pytest.raises(ValueError, match=r"hosts \['mx9'\] to a request for \['mx1'\]"):
        executor.run_batch(_request(("mx1",)))


def test_mock_executor_reports_every_host_unknown_when_cancelled_before_the_batch() -> None:
    """A batch asked to stop before it starts is cancelled, every host UNKNOWN, and the handler never called."""
    calls: list[patchorch.BatchRequest] = []
    executor = MockExecutor(lambda r: calls.append(r) or _answer(r))  # type: ignore[func-returns-value]
    outcome = executor.run_batch(_request(("mx1", "mx2")), cancelled=lambda: True)
    assert outcome.cancelled
    assert {o.status for o in outcome.outcomes} == {patchorch.HostStatus.UNKNOWN}
    assert calls == []


def test_mock_executor_without_a_facts_handler_fails_every_host_facts() -> None:
    """gather without a facts handler answers no facts and names every host as failed."""
    from patchorch.execution.base import FactsRequest

    result = MockExecutor(_answer).gather(FactsRequest(run_id="f", hosts=("mx1", "mx2"), inventory=()))
    assert result.facts == {}
    assert sorted(result.failed) == ["mx1", "mx2"]


def test_recording_observer_records_every_observer_method() -> None:
    """Each public method of Observer is overridden by RecordingObserver, so no event goes unrecorded."""
    hooks = {n for n, f in inspect.getmembers(patchorch.Observer, inspect.isfunction) if not n.startswith("_")}
    assert hooks
    assert all(getattr(RecordingObserver, n) is not getattr(patchorch.Observer, n) for n in hooks)
