"""A real emergency rollout to acme-mta 1.0-2 with a snapshot hook, then `patchorch rollback` back to 1.0-1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from patchorch.cli._app import main
from patchorch.domain.plan import ExclusionReason, PackageSpec, UpdateScope
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from tests.integration.conftest import ACME, NEW, OLD, Fleet

pytestmark = pytest.mark.fleet

MARKER = "/var/tmp/patchorch-snapshot"
SNAPSHOT = ["/bin/sh", "-c", f"hostname > {MARKER} && echo snapshot taken"]


def _installed(fresh: Fleet, host: str) -> str:
    return fresh.fleet.exec(host, "dpkg-query", "-W", "-f=${Version}", "acme-mta").stdout


def test_rollback_takes_the_changed_hosts_back_and_links_both_runs(
    fresh: Fleet, state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rollout snapshots and upgrades mx and imap; the rollback puts back 1.0-1 where it changed, nowhere else."""
    inventory = yaml.safe_load(fresh.inventory.read_text())
    inventory["all"].setdefault("vars", {})["patchorch_snapshot_hook"] = [SNAPSHOT]
    hosts_file = tmp_path / "hosts.yml"
    hosts_file.write_text(yaml.safe_dump(inventory))
    policy = fresh.fleet.policy_path
    names = {h.name for h in fresh.fleet.hosts}
    targets = sorted(h.name for h in fresh.fleet.hosts if h.group in ("mx", "imap"))
    already = targets[0]  # already at 1.0-2: the rollout does not change it, so the rollback leaves it there
    outside = sorted(names - set(targets))
    fresh.fleet.exec(already, "apt-get", "install", "-y", "-q", f"acme-mta={NEW}")

    workspace = Workspace.open(state_dir, actor="pytest", clock=FakeClock())
    plan = workspace.plan([hosts_file], policy=policy, emergency=True, update=ACME, limit="mx:imap")
    inputs = RunInputs(inventory=(str(hosts_file),), policy=str(policy), limit="mx:imap")
    rollout = workspace.start(plan, inventory=[hosts_file], inputs=inputs)
    assert rollout.state is RunState.COMPLETED, rollout.reason
    assert {host: _installed(fresh, host) for host in targets} == dict.fromkeys(targets, NEW)
    for attempt in workspace.store.attempts(rollout.run_id):
        assert attempt.outcome is not None
        snapshot = attempt.outcome.hooks["snapshot"]
        assert (snapshot.status, snapshot.rc, snapshot.output) == ("ok", 0, "snapshot taken")
        assert fresh.fleet.exec(attempt.host, "cat", MARKER).stdout.strip() != ""

    status = main(
        ["--state-dir", str(state_dir), "rollback", rollout.run_id, "--emergency", "--yes", "--max-wait", "0"]
    )
    assert status == 0, capsys.readouterr()

    [back] = workspace.store.rollbacks_of(rollout.run_id)
    record = workspace.store.run(back)
    assert (record.state, record.rollback_of) == (RunState.COMPLETED, rollout.run_id)
    rollback_plan = workspace.store.plan(back)
    assert rollback_plan.update.scope is UpdateScope.ROLLBACK
    assert sorted(rollback_plan.targets) == sorted(set(targets) - {already})
    assert {s.host: s.downgrade for s in rollback_plan.host_settings} == dict.fromkeys(
        set(targets) - {already}, (PackageSpec(name="acme-mta", version=OLD),)
    )
    reasons = {e.host: e.reason for e in rollback_plan.exclusions if e.host in names}  # not the decommissioned one
    assert reasons == {already: ExclusionReason.NOT_CHANGED} | dict.fromkeys(outside, ExclusionReason.NOT_PATCHED)
    attempts = workspace.store.attempts(back)
    assert {a.host: (a.outcome.versions_before, a.outcome.versions_after) for a in attempts if a.outcome} == {
        host: ({"acme-mta": NEW}, {"acme-mta": OLD}) for host in set(targets) - {already}
    }
    assert {host: _installed(fresh, host) for host in names} == {
        host: NEW if host == already else OLD for host in names
    }
    assert workspace.verify_audit() > 0

    capsys.readouterr()
    assert main(["--state-dir", str(state_dir), "show", rollout.run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rolled_back_by"] == [back]
    assert main(["--state-dir", str(state_dir), "show", back, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["rollback_of"] == rollout.run_id
