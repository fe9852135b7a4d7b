"""Hooks from the inventory and the policy through a real rollout: drained during the update, undrained after."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from patchorch.testing.fleet import Fault
from tests.integration.conftest import ACME, Fleet, policy_file

pytestmark = pytest.mark.fleet

EVENTS = "/var/log/fleet-events.log"
DRAIN_TASKS = """\
- name: Take acme-mta out of service
  ansible.builtin.command:
    argv: [/usr/local/sbin/fleet-service, drain, acme-mta]
  changed_when: true
"""


def _events(fresh: Fleet, host: str) -> list[str]:
    return fresh.fleet.exec(host, "cat", EVENTS, check=False).stdout.splitlines()


def test_rollout_drains_by_inventory_and_undrains_by_policy(fresh: Fleet, state_dir: Path, tmp_path: Path) -> None:
    """The mx group's tasks-file drain and the policy's undrain command run around each upgrade, failed or not."""
    inventory = yaml.safe_load(fresh.inventory.read_text())
    inventory["all"]["children"]["mx"]["vars"]["patchorch_pre_hook"] = "hooks/drain.yml"
    directory = tmp_path / "inventory"
    (directory / "hooks").mkdir(parents=True)
    (directory / "hooks" / "drain.yml").write_text(DRAIN_TASKS)
    (directory / "hosts.yml").write_text(yaml.safe_dump(inventory))
    policy = policy_file(
        fresh.fleet, tmp_path, post_hook=[["/usr/local/sbin/fleet-service", "undrain", "acme-mta"]], failure_budget=1
    )
    mx = sorted(h.name for h in fresh.fleet.hosts if h.group == "mx")
    fresh.fleet.set_fault(mx[1], Fault.FAILING_UPGRADE)
    before = {host: len(_events(fresh, host)) for host in mx}

    workspace = Workspace.open(state_dir, actor="pytest", clock=FakeClock())
    plan = workspace.plan([directory / "hosts.yml"], policy=policy, emergency=True, update=ACME, limit="mx")
    report = workspace.start(
        plan, inventory=[directory / "hosts.yml"], inputs=RunInputs(inventory=(str(directory / "hosts.yml"),))
    )

    assert report.state is RunState.COMPLETED, report.reason
    assert _events(fresh, mx[0])[before[mx[0]] :] == ["drain acme-mta", "upgrade acme-mta drained", "undrain acme-mta"]
    assert _events(fresh, mx[1])[before[mx[1]] :] == [
        "drain acme-mta",
        "refused-upgrade acme-mta drained",
        "undrain acme-mta",
    ]
    outcomes = {a.host: a.outcome for a in workspace.store.attempts(report.run_id)}
    for host in mx:
        outcome = outcomes[host]
        assert outcome is not None
        assert outcome.hooks["pre"].status == outcome.hooks["post"].status == "ok"
        assert outcome.hooks["pre"].hook.startswith("tasks hooks/pre-")
    failed = outcomes[mx[1]]
    assert failed is not None
    assert failed.failed_step == "update"
