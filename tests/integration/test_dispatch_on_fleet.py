"""Per-host windows and the prepare phase on the real test fleet (real Ansible, a fake clock for the windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from patchorch.domain.run import RunInputs, RunState
from patchorch.domain.windows import open_intervals
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from tests.integration.conftest import ACME, NEW, OLD, Fleet

pytestmark = pytest.mark.fleet

# A Monday 10:00 UTC: the windows below are built relative to it.
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _window(opens: datetime, minutes: int) -> dict[str, Any]:
    return {"days": [opens.strftime("%a").lower()], "start": opens.strftime("%H:%M"), "duration": f"{minutes}m"}


def _inventory_with_windows(fresh: Fleet, directory: Path, windows: dict[str, dict[str, Any]]) -> Path:
    """A copy of the fleet's inventory whose hosts carry the given window (host variables win over groups')."""
    data = yaml.safe_load(fresh.inventory.read_text())
    for group in data["all"]["children"].values():
        for host, variables in (group.get("hosts") or {}).items():
            if host in windows:
                variables["patchorch_maintenance_windows"] = [windows[host]]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_regular_rollout_patches_each_host_inside_its_window_and_leaves_the_rest_waiting(
    fresh: Fleet, state_dir: Path, tmp_path: Path
) -> None:
    """Hosts whose window is open now go first, hosts whose window opens two hours later follow then, and a host
    whose window closed an hour ago waits (named with its owner and next opening) until resumed in its window."""
    clock = FakeClock(T0)
    workspace = Workspace.open(state_dir, actor="pytest", clock=clock, max_wait=timedelta(hours=3))
    policy = fresh.fleet.policy_path  # no approvals, no soaks
    base = workspace.plan([fresh.inventory], policy=policy, update=ACME)
    assert len(base.stages) >= 3
    closed = base.stages[-1].hosts[-1]
    later = set(base.stages[-2].hosts) | set(base.stages[-1].hosts[:-1])
    windows = {
        host: _window(T0 + timedelta(hours=2), 60)
        if host in later
        else _window(T0 - timedelta(hours=1), 30)
        if host == closed
        else _window(T0 - timedelta(minutes=5), 60)
        for host in base.targets
    }
    inventory = _inventory_with_windows(fresh, tmp_path / "inv", windows)
    plan = workspace.plan([inventory], policy=policy, update=ACME)
    report = workspace.start(plan, inventory=[inventory], inputs=RunInputs(inventory=(str(inventory),)))

    assert report.state is RunState.WAITING, report.reason
    owner = plan.planned_host(closed).owner
    assert f"{closed} (owner {owner}, next opening 2026-01-12T09:00:00+00:00)" in report.reason
    attempts = workspace.store.attempts(report.run_id)
    assert closed not in {a.host for a in attempts}
    assert fresh.upgrades(closed) == 0
    _assert_inside_windows(plan, attempts)
    assert all(a.dispatched_at >= T0 + timedelta(hours=2) for a in attempts if a.host in later)

    clock.advance((datetime(2026, 1, 12, 9, 0, tzinfo=UTC) - clock.now()).total_seconds())
    resumed = workspace.resume(report.run_id)
    assert resumed.state is RunState.COMPLETED, resumed.reason
    assert all(fresh.upgrades(h) == 1 for h in plan.targets)
    _assert_inside_windows(plan, workspace.store.attempts(report.run_id))


def test_a_repository_fault_in_prepare_stops_the_run_before_any_host_is_disrupted(
    fresh: Fleet, state_dir: Path
) -> None:
    """A host with a repository that does not answer fails the prepare phase: the run halts naming it and its owner,
    no host is dispatched or upgraded; once the repository is back, resume prepares it and patches every host."""
    victim = "relay1"
    broken = "/etc/apt/sources.list.d/broken.list"
    fresh.fleet.exec(victim, "sh", "-c", f"echo 'deb [trusted=yes] file:/srv/no-such-repo ./' > {broken}")
    try:
        workspace = Workspace.open(state_dir, actor="pytest", clock=FakeClock())
        plan = workspace.plan([fresh.inventory], policy=fresh.fleet.policy_path, emergency=True, update=ACME)
        report = workspace.start(plan, inventory=[fresh.inventory], inputs=RunInputs(inventory=(str(fresh.inventory),)))
        assert report.state is RunState.HALTED
        assert f"prepare failed before any host was disrupted: {victim} (owner {plan.planned_host(victim).owner})" in (
            report.reason
        )
        assert workspace.store.attempts(report.run_id) == []
        assert all(fresh.upgrades(h) == 0 and fresh.version(h) == OLD for h in plan.targets)
    finally:
        fresh.fleet.exec(victim, "rm", "-f", broken, check=False)
    resumed = workspace.resume(report.run_id)
    assert resumed.state is RunState.COMPLETED, resumed.reason
    assert all(fresh.upgrades(h) == 1 and fresh.version(h) == NEW for h in plan.targets)
    prepared = [r.data for r in workspace.store.audit_log(report.run_id) if r.event == "prepared"]
    assert prepared[-1]["hosts"] == {victim: {"acme-mta": NEW}}


def _assert_inside_windows(plan: Any, attempts: Any) -> None:
    for attempt in attempts:
        windows = plan.planned_host(attempt.host).windows
        spans = open_intervals(windows, T0 - timedelta(days=1), timedelta(days=14))
        start = attempt.dispatched_at
        assert any(s <= start and start + plan.expected_duration <= e for s, e in spans), (attempt.host, start)
