"""`Workspace.rollback` from a script: the recorded run's changed hosts are planned, rendered, run and recorded as a
new run linked to it (a simulated executor stands in for Ansible; the fleet test runs the real thing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchorch.domain.plan import ExclusionReason, PackageSpec, UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs, RunState
from patchorch.errors import PlanError
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock, SimulatedExecutor

ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))


def test_a_script_rolls_back_a_recorded_run_and_the_link_is_recorded(tmp_path: Path) -> None:
    """The rollback targets the hosts the run changed and names the run it undoes; hosts it never changed are
    refused as nothing to undo."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n    mx2:\n    relay1:\n")
    clock = FakeClock()
    workspace = Workspace.open(
        tmp_path / "state", actor="pytest", clock=clock, executor=SimulatedExecutor(clock=clock, mean_seconds=0)
    )
    plan = workspace.plan([inventory], update=ACME, limit="mx1:mx2")
    rollout = workspace.start(plan, inventory=[inventory], inputs=RunInputs(inventory=(str(inventory),)))
    assert rollout.state is RunState.COMPLETED, rollout.reason

    report = workspace.rollback(rollout.run_id)

    assert report.state is RunState.COMPLETED, report.reason
    assert workspace.store.run(report.run_id).rollback_of == rollout.run_id
    assert workspace.store.rollbacks_of(rollout.run_id) == [report.run_id]
    back = workspace.store.plan(report.run_id)
    assert sorted(back.targets) == ["mx1", "mx2"]
    assert {e.host: e.reason for e in back.exclusions} == {"relay1": ExclusionReason.NOT_PATCHED}
    with pytest.raises(PlanError, match="--hosts relay1 matches only hosts run"):
        workspace.plan_rollback(rollout.run_id, hosts="relay1")


def test_a_rollback_renders_with_the_templates_of_the_run_it_undoes(tmp_path: Path) -> None:
    """The rollback records the template directory the run was rendered with, not the one configured now; a run
    that had none gets this workspace's."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n")
    then, now = tmp_path / "templates-then", tmp_path / "templates-now"
    then.mkdir()
    now.mkdir()
    clock = FakeClock()
    executor = SimulatedExecutor(clock=clock, mean_seconds=0)
    before = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor, template_dir=then)
    with_templates = before.start(before.plan([inventory], update=ACME), inventory=[inventory]).run_id
    plain = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor)
    without = plain.start(plain.plan([inventory], update=ACME), inventory=[inventory]).run_id
    workspace = Workspace.open(tmp_path / "state", actor="pytest", clock=clock, executor=executor, template_dir=now)

    assert workspace.rollback_inputs(with_templates).recorded.template_dir == str(then.resolve())
    assert workspace.rollback_inputs(without).recorded.template_dir == str(now.resolve())


def test_a_run_that_recorded_no_inventory_needs_one_given(tmp_path: Path) -> None:
    """Without an inventory given or recorded there is nothing to plan the rollback over: a PlanError naming the run."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n")
    workspace = Workspace.open(tmp_path / "state", actor="pytest", clock=FakeClock())
    workspace.store.create_run("r1", workspace.plan([inventory], update=ACME), RunInputs())

    with pytest.raises(PlanError, match="run r1 recorded no inventory: give the inventory to roll it back with"):
        workspace.rollback_inputs("r1")
    assert workspace.rollback_inputs("r1", inventory=[inventory]).inventory == (inventory,)
