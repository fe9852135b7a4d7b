"""`Workspace.resume` takes the run's lock before it renders the run's directory: a resume refused because another
process drives the run writes nothing (a simulated executor stands in for Ansible)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.plan import PackageSpec, UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs, RunState
from patchorch.errors import InventoryError, RunLockedError
from patchorch.orchestrator.claims import HostClaims
from patchorch.orchestrator.locks import RunLock
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock, SimulatedExecutor

ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))
HOSTS = ["mx1", "mx2", "relay1"]
CLAIM = timedelta(minutes=10)


def _paused(tmp_path: Path, clock: FakeClock, executor: SimulatedExecutor) -> tuple[Workspace, str]:
    """A workspace and its run paused before dispatching anything: another run (another machine) claims every host
    for ten minutes."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n" + "".join(f"    {host}:\n" for host in HOSTS), encoding="utf-8")
    workspace = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor)
    HostClaims(workspace.store, lease=CLAIM, holder="bastion-2:77").claim("r1", HOSTS)
    plan = workspace.plan([inventory], update=ACME)
    paused = workspace.start(plan, inventory=[inventory], inputs=RunInputs(inventory=(str(inventory),)))
    assert paused.state is RunState.PAUSED, paused.reason
    return workspace, paused.run_id


def test_a_resume_refused_by_the_run_lock_renders_nothing(tmp_path: Path) -> None:
    """Another process holds the paused run's lock: resume raises RunLockedError, and the run's directory (removed
    beforehand) is not written again, nor anything dispatched."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    shutil.rmtree(workspace.run_dir(run_id))
    RunLock(workspace.store, clock, holder="bastion-3:99").acquire(run_id)

    with pytest.raises(RunLockedError, match=r"is being driven by .* \(bastion-3:99\)"):
        workspace.resume(run_id)

    assert not workspace.run_dir(run_id).exists()
    assert executor.dispatches == []


def test_a_resume_holds_the_lock_through_the_run_and_releases_it_after(tmp_path: Path) -> None:
    """Once the claims have expired, resume renders the run again, finishes it, and leaves its lock free for another
    process (the lock taken around rendering and the one the orchestrator takes are one)."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    shutil.rmtree(workspace.run_dir(run_id))
    clock.advance(CLAIM.total_seconds() + 1)

    report = workspace.resume(run_id)

    assert report.state is RunState.COMPLETED, report.reason
    assert workspace.run_dir(run_id).is_dir()
    RunLock(workspace.store, clock, holder="bastion-3:99").acquire(run_id)  # raises RunLockedError if still held


def test_a_resume_renders_with_the_templates_the_run_started_with(tmp_path: Path) -> None:
    """A run started from a workspace with a template directory records it; a resume from a workspace opened without
    one (today's settings) still renders the run's directory from the recorded templates."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "README.md.j2").write_text("run {{ run_id }}, our own templates\n")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n" + "".join(f"    {host}:\n" for host in HOSTS), encoding="utf-8")
    first = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor, template_dir=templates)
    HostClaims(first.store, lease=CLAIM, holder="bastion-2:77").claim("r1", HOSTS)
    paused = first.start(first.plan([inventory], update=ACME), inventory=[inventory])
    assert paused.state is RunState.PAUSED, paused.reason
    assert first.store.run(paused.run_id).inputs.template_dir == str(templates.resolve())
    shutil.rmtree(first.run_dir(paused.run_id))
    clock.advance((CLAIM + timedelta(seconds=1)).total_seconds())

    later = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor)
    assert later.resume(paused.run_id).state is RunState.COMPLETED
    readme = later.run_dir(paused.run_id) / "README.md"
    assert readme.read_text() == f"run {paused.run_id}, our own templates\n"


def _decommission(tmp_path: Path, host: str) -> None:
    """Edit the run's inventory after planning: `host` is decommissioned."""
    lines = "".join(
        f"    {name}:\n" + ("      patchorch_lifecycle: decommissioned\n" if name == host else "") for name in HOSTS
    )
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n" + lines, encoding="utf-8")


def test_a_resume_refuses_an_inventory_that_decommissioned_a_host_still_to_patch(tmp_path: Path) -> None:
    """mx2 decommissioned after the run was planned: resume is an InventoryError naming the host, the field and the
    way on; nothing is dispatched and the run stays paused."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    clock.advance(CLAIM.total_seconds() + 1)
    _decommission(tmp_path, "mx2")

    with pytest.raises(InventoryError) as refused:
        workspace.resume(run_id)

    [problem] = refused.value.problems
    assert (problem.host, problem.field) == ("mx2", "lifecycle")
    assert "is now lifecycle is decommissioned" in problem.message
    assert "--accept-inventory-change" in (problem.allowed or "")
    assert executor.dispatches == []
    assert workspace.store.run(run_id).state is RunState.PAUSED


def test_an_accepted_inventory_change_goes_on_with_the_plan_and_is_recorded(tmp_path: Path) -> None:
    """With accept_inventory_change the frozen plan completes, and the record names what changed."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    clock.advance(CLAIM.total_seconds() + 1)
    _decommission(tmp_path, "mx2")

    report = workspace.resume(run_id, accept_inventory_change=True)

    assert report.state is RunState.COMPLETED, report.reason
    [note] = [r for r in workspace.store.audit_log(run_id) if r.event == "inventory-changed"]
    assert note.data["accepted"] == [
        {"host": "mx2", "field": "lifecycle", "planned": "a target", "now": "lifecycle is decommissioned"}
    ]


def test_a_change_that_leaves_the_targets_as_planned_is_recorded_not_refused(tmp_path: Path) -> None:
    """A host added to the inventory changes its digest but no planned target: resume goes on and records it."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    clock.advance(CLAIM.total_seconds() + 1)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(inventory.read_text(encoding="utf-8") + "    imap9:\n", encoding="utf-8")

    assert workspace.resume(run_id).state is RunState.COMPLETED
    [note] = [r for r in workspace.store.audit_log(run_id) if r.event == "inventory-changed"]
    assert note.data["accepted"] == []


def test_resume_on_the_command_line_refuses_a_changed_inventory_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`patchorch resume` over a decommissioned host still to patch exits 2 with the host and field on stderr."""
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    workspace, run_id = _paused(tmp_path, clock, executor)
    workspace.store.engine.dispose()
    _decommission(tmp_path, "mx2")

    assert main(["--state-dir", str(tmp_path / "state"), "resume", run_id]) == 2
    err = capsys.readouterr().err
    assert "the inventory changed since run" in err
    assert "host mx2, lifecycle" in err
