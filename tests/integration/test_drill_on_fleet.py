"""`patchorch drill` on the real test fleet: read-only, blockers with owners, projected from real runs' durations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.workspace import Workspace
from tests.integration.conftest import ACME, NEW, OLD, Fleet

pytestmark = pytest.mark.fleet

VICTIM = "relay1"
# The disk fault: on the victim, a `df` ahead of the real one in PATH reports 10 MiB free, as a full /var would.
# (The fleet's image has no disk fault, and a really full disk would fill the machine running the containers.)
FAKE_DF = "/usr/local/bin/df"
FULL_DISK = (
    "#!/bin/sh",
    "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'",
    "echo 'overlay 10485760 10475520 10240 100% /'",
)


@contextmanager
def _disk_full(fresh: Fleet, host: str) -> Iterator[None]:
    fresh.fleet.exec(host, "sh", "-c", f'printf "%s\\n" "$@" > {FAKE_DF} && chmod 755 {FAKE_DF}', "sh", *FULL_DISK)
    try:
        yield
    finally:
        fresh.fleet.exec(host, "rm", "-f", FAKE_DF, check=False)


def _dpkg_logs(fresh: Fleet) -> dict[str, str]:
    return {h.name: fresh.fleet.exec(h.name, "cat", "/var/log/dpkg.log", check=False).stdout for h in fresh.fleet.hosts}


def test_drill_changes_nothing_names_the_disk_blocker_and_projects_the_real_rollout(
    fresh: Fleet, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A drill leaves every host's versions and dpkg.log as they were, reports the disk-faulted host as a blocker
    with its owner, is projected from the real rollout's durations once that is recorded, and the report counts it
    as a drill."""
    inventory = fresh.inventory
    policy = fresh.fleet.policy_path
    logs = _dpkg_logs(fresh)
    common = ["--state-dir", str(state_dir)]
    drill = [*common, "drill", "-i", str(inventory), "--policy", str(policy), "--package", "acme-mta", "--emergency"]
    capsys.readouterr()
    with _disk_full(fresh, VICTIM):
        assert main([*drill, "--json"]) == 1  # a blocker was found
    report = json.loads(capsys.readouterr().out)

    assert _dpkg_logs(fresh) == logs
    assert all(fresh.version(h.name) == OLD for h in fresh.fleet.hosts)
    workspace = Workspace.open(state_dir, actor="pytest")
    # Emergency: the fleet's hosts have maintenance windows, which a regular rollout would really wait for.
    plan = workspace.plan([fresh.inventory], policy=policy, emergency=True, update=ACME)
    [blocker] = report["blockers"]
    assert (blocker["host"], blocker["owner"], blocker["phase"]) == (VICTIM, plan.planned_host(VICTIM).owner, "prepare")
    assert "only 10 MiB free" in blocker["message"]
    assert report["state"] == RunState.COMPLETED.value
    rehearsed = {c["host"]: c for c in report["changes"]}
    assert set(rehearsed) == set(plan.targets) - {VICTIM}
    assert all(c["versions_before"] == {"acme-mta": OLD} for c in rehearsed.values())
    [recorded] = workspace.runs()
    assert recorded.inputs.drill
    assert recorded.inputs.check

    rollout = workspace.start(plan, inventory=[fresh.inventory], inputs=RunInputs(inventory=(str(fresh.inventory),)))
    assert rollout.succeeded, rollout.reason
    assert all(fresh.version(h) == NEW for h in plan.targets)
    # That the projection is what a real rollout takes is proven exactly, with durations injected, in
    # tests/orchestrator/test_drill.py: a margin against the wall clock here would measure the machine's load. What
    # the fleet adds: once the real rollout is recorded, the drill is projected from the durations it measured.
    run = workspace.store.run(rollout.run_id)
    took = (run.updated_at - run.created_at).total_seconds()
    reprojected = workspace.drill_report(recorded.id)
    assert reprojected.duration_basis == dict.fromkeys(plan.targets, "measured")
    projected, then = report["projected_seconds"], reprojected.projected_seconds
    print(f"drill projected {projected:.1f}s, {then:.1f}s from the real rollout's durations; it took {took:.1f}s")

    capsys.readouterr()
    assert main([*common, "report", "-i", str(fresh.inventory), "--policy", str(policy), "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert (totals["runs"], totals["drills"], totals["rehearsals"]) == (1, 1, 0)
