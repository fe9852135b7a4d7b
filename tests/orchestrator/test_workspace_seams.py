"""What the CLI reads and does through the Workspace alone: observers, run ids, the records of a run, an advisory's
scope and package facts (a simulated executor stands in for Ansible)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.domain.advisory import HostFacts, OsRelease, PackageFact
from patchorch.domain.fleet import Criticality, Exposure, Fleet, Host, Lifecycle, Owner
from patchorch.domain.outcomes import BatchOutcome
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.domain.vulnerability import Decision
from patchorch.errors import RunStateError
from patchorch.execution.base import BatchRequest, FactsRequest, FactsResult
from patchorch.orchestrator.exposure import import_advisories
from patchorch.orchestrator.stores import StoreLocation
from patchorch.orchestrator.workspace import Workspace
from patchorch.sources.inventory import load_fleet
from patchorch.testing import FakeClock, MockExecutor, RecordingObserver, SimulatedExecutor
from tests.advisories.conftest import FIXTURES
from tests.plans import make_plan

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DEBIAN_12 = OsRelease(family="debian", version="12", manager="dpkg")
MAIL = Owner(team="mail", contact="mail-oncall@example.org")
INVENTORY = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"


def _workspace(tmp_path: Path) -> tuple[Workspace, Path]:
    """A workspace on a fake clock with a simulated executor, and an inventory of mx1 and mx2."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n    mx2:\n", encoding="utf-8")
    clock = FakeClock(NOW)
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    return Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor), inventory


def _approved_run(workspace: Workspace, inventory: Path) -> str:
    """A run of a canary (mx1) and one wave (mx2) whose wave waited for alice's approval, then finished."""
    plan = make_plan([[["mx1"]], [["mx2"]]], approval={"wave-1"})
    first = workspace.start(plan, inventory=[inventory], inputs=RunInputs(inventory=(str(inventory),)))
    assert first.state is RunState.AWAITING_APPROVAL, first.reason
    workspace.approve(first.run_id, "alice", comment="CHG-1")
    assert workspace.resume(first.run_id).state is RunState.COMPLETED
    return first.run_id


def test_an_observer_added_after_opening_watches_the_runs_started_later(tmp_path: Path) -> None:
    """`observe` hands every event of a later run to the observer: each stage started, and the run's end."""
    workspace, inventory = _workspace(tmp_path)
    observer = RecordingObserver()
    workspace.observe(observer)
    plan = make_plan([[["mx1"]], [["mx2"]]])
    report = workspace.start(plan, inventory=[inventory])
    assert [event.data["stage"].name for event in observer.of("stage_started")] == ["canary", "wave-1"]
    assert observer.of("run_state")[-1].data["state"] is report.state is RunState.COMPLETED


def test_a_new_run_id_is_named_after_the_workspace_clock(tmp_path: Path) -> None:
    """A run id chosen before the run starts reads the workspace's (fake) time."""
    workspace, _ = _workspace(tmp_path)
    assert workspace.new_run_id().startswith("20261130-090000-")


def test_run_and_recorded_plan_read_back_what_the_start_recorded(tmp_path: Path) -> None:
    """`run` gives the record with the inputs the run was started from, `recorded_plan` its frozen plan."""
    workspace, inventory = _workspace(tmp_path)
    plan = make_plan([[["mx1", "mx2"]]])
    report = workspace.start(plan, inventory=[inventory], inputs=RunInputs(limit="mx*"))
    record = workspace.run(report.run_id)
    assert record.state is RunState.COMPLETED
    assert record.inputs.inventory == (str(inventory.resolve()),)
    assert record.inputs.limit == "mx*"
    assert workspace.recorded_plan(report.run_id).content_hash == plan.content_hash


def test_an_unknown_run_is_a_run_state_error(tmp_path: Path) -> None:
    """Reading a run that was never recorded is bad input (RunStateError), whichever record is asked for."""
    workspace, _ = _workspace(tmp_path)
    with pytest.raises(RunStateError):
        workspace.run("20261130-090000-beef")
    with pytest.raises(RunStateError):
        workspace.view("20261130-090000-beef")


def test_the_view_holds_the_stages_attempts_and_approvals_status_and_show_print(tmp_path: Path) -> None:
    """`view` gives the run, its report, each stage's state, every attempt and the approval, in recorded order."""
    workspace, inventory = _workspace(tmp_path)
    run_id = _approved_run(workspace, inventory)
    view = workspace.view(run_id)
    assert view.run.id == view.report.run_id == run_id
    assert [(s.name, s.state) for s in view.stages] == [
        ("canary", StageState.COMPLETED),
        ("wave-1", StageState.COMPLETED),
    ]
    assert [(a.stage, a.host) for a in view.attempts] == [("canary", "mx1"), ("wave-1", "mx2")]
    assert [(a.stage, a.approver, a.comment) for a in view.approvals] == [("wave-1", "alice", "CHG-1")]
    assert view.rolled_back_by == ()


def test_the_view_names_the_runs_that_roll_the_run_back(tmp_path: Path) -> None:
    """After a rollback, the view of the run it undoes names the rollback's run."""
    workspace, inventory = _workspace(tmp_path)
    rollout = workspace.start(make_plan([[["mx1", "mx2"]]]), inventory=[inventory])
    back = workspace.rollback(rollout.run_id)
    assert workspace.view(rollout.run_id).rolled_back_by == (back.run_id,)


def test_an_advisory_scope_reads_the_advisories_of_the_workspaces_own_store(tmp_path: Path) -> None:
    """Advisories imported through the state directory's StoreLocation are those the workspace scopes: the affected
    host is a target, an eligible host without facts is named, a decommissioned one is not, and an 'immediate'
    decision asks for the emergency strategy."""
    workspace, _ = _workspace(tmp_path)
    advisories = StoreLocation(tmp_path / "state").advisories()
    import_advisories([FIXTURES], advisories, now=NOW)
    for host, version in (("mx1", "1.0-1"), ("mx2", "1.0-2")):
        advisories.save_facts(host, [PackageFact(name="acme-mta", version=version, source="acme-mta")], DEBIAN_12, NOW)
    fleet = Fleet(
        hosts=(
            Host(name="mx1", owner=MAIL, exposure=Exposure.INTERNET, criticality=Criticality.HIGH),
            Host(name="mx2", owner=MAIL),
            Host(name="mx3", owner=MAIL),
            Host(name="old1", owner=MAIL, lifecycle=Lifecycle.DECOMMISSIONED),
        )
    )
    scope = workspace.advisory_scope(fleet, "WID-SEC-W-2026-0042")
    assert scope.found.targets == {"mx1"}
    assert scope.without_facts == ("mx3",)
    assert scope.found.decision is Decision.IMMEDIATE
    assert scope.emergency


def _no_batch(request: BatchRequest) -> BatchOutcome:
    raise AssertionError(f"refreshing facts dispatched a batch: {request}")


def test_refreshed_facts_land_in_the_store_of_the_workspaces_location(tmp_path: Path) -> None:
    """`refresh_facts` gathers through the workspace's executor and stores the facts, at the workspace's time, where
    the advisory commands (StoreLocation) read them."""
    package = PackageFact(name="acme-mta", version="1.0-1", arch="all")
    typed = HostFacts(os=DEBIAN_12, packages=(package,))

    def facts(request: FactsRequest) -> FactsResult:
        return FactsResult(facts=dict.fromkeys(request.hosts, typed), failed={})

    clock = FakeClock(NOW)
    executor = MockExecutor(_no_batch, facts=facts)
    workspace = Workspace.open(tmp_path / "state", actor="pytest", executor=executor, clock=clock)
    fleet = load_fleet([INVENTORY]).fleet
    result = workspace.refresh_facts(fleet, [INVENTORY])
    assert result.refreshed
    host = next(iter(result.refreshed))
    stored = StoreLocation(tmp_path / "state").advisories().facts(host)
    assert stored is not None
    assert [p.name for p in stored[0]] == ["acme-mta"]
    assert stored[1] == NOW
