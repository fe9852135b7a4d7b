"""The compliance report over real runs on the test fleet: a rehearsal, an advisory rollout with approvals, a late
host and a failed one; counted right in the JSON and rendered with its plots by a real Chromium."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.plan import StageKind
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.exposure import advisory_targets, import_advisories
from patchorch.orchestrator.facts import refresh_facts
from patchorch.orchestrator.workspace import Workspace
from patchorch.sources.inventory import load_fleet
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.runs import create_store_engine
from patchorch.testing import FakeClock
from patchorch.testing.fleet import Fault
from tests.integration.conftest import Fleet, policy_file
from tests.report.chromium import render

pytestmark = pytest.mark.fleet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "advisories"
ADVISORY = "WID-SEC-W-2026-0042"
SOAK_HOURS = 2


def test_report_over_real_runs_counts_late_failed_and_rehearsed_hosts_and_renders(
    fresh: Fleet, state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rehearsal, then an advisory rollout whose canary soak outlasts the critical SLA: the report's JSON counts
    the canary within its SLA, the wave hosts of short-SLA classes late, the failed host standing with its owner,
    every approval and the rehearsal; Chromium renders the page with both plots."""
    # The fake clock starts now and jumps through soaks; Ansible, SSH and the store are real.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    workspace = Workspace.open(state_dir, actor="ops@bastion", clock=clock)
    advisories = AdvisoryStore(create_store_engine(f"sqlite:///{state_dir / 'patchorch.db'}"))
    advisories.create_tables()
    import_advisories([FIXTURES / "csaf-acme-mta.json"], advisories, now=clock.now())
    inventory = fresh.inventory
    fleet = load_fleet([inventory]).fleet
    assert not refresh_facts(workspace, advisories, fleet, [inventory]).failed
    policy = policy_file(
        fresh.fleet,
        tmp_path,
        emergency={"canary": {"size": 1, "concurrency": 1, "soak": f"{SOAK_HOURS}h", "failure_budget": 0}, "soak": 0},
        class_critical__sla="1h",
        class_high__sla="1h",
        **{f"class_{name}__approval": True for name in ("critical", "high", "medium", "low")},
        **{f"class_{name}__failure_budget": 1 for name in ("critical", "high", "medium", "low")},
    )
    found = advisory_targets(advisories, fleet, ADVISORY, clock.now())

    def plan():  # type: ignore[no-untyped-def]
        return workspace.plan(
            [inventory],
            policy=policy,
            emergency=True,
            targets=found.targets,
            update=found.update,
            vulnerabilities=list(found.vulnerabilities.values()),
        )

    # The rehearsal: check mode, recorded as a run, installs nothing.
    rehearsal_plan = plan()
    check_inputs = RunInputs(inventory=(str(inventory),), advisory=ADVISORY, check=True)
    rehearsal = workspace.start(rehearsal_plan, inventory=[inventory], inputs=check_inputs)
    while rehearsal.state is RunState.AWAITING_APPROVAL:
        workspace.approve(rehearsal.run_id, "lead@bastion", comment="rehearsal")
        rehearsal = workspace.resume(rehearsal.run_id)
    assert rehearsal.state is RunState.COMPLETED, rehearsal.reason
    assert all(fresh.upgrades(host) == 0 for host in rehearsal_plan.targets)

    # The real rollout, with one wave host failing its health check after the upgrade.
    real_plan = plan()
    canary = next(s for s in real_plan.stages if s.kind is StageKind.CANARY).hosts
    failing = real_plan.stages[-1].hosts[-1]
    fresh.fleet.set_fault(failing, Fault.FAILING_HEALTH)
    inputs = RunInputs(inventory=(str(inventory),), advisory=ADVISORY)
    report = workspace.start(real_plan, inventory=[inventory], inputs=inputs)
    while report.state is RunState.AWAITING_APPROVAL:
        workspace.approve(report.run_id, "lead@bastion", comment="CHG-4711")
        report = workspace.resume(report.run_id)
    assert report.state is RunState.COMPLETED, report.reason
    assert report.failed_hosts == (failing,)

    page = tmp_path / "report.html"
    command = ["--state-dir", str(state_dir), "report", "-i", str(inventory), "--policy", str(policy), "--json"]
    capsys.readouterr()
    assert main([*command, "-o", str(page), "--csv", str(tmp_path / "csv")]) == 0
    data = json.loads(capsys.readouterr().out)

    patched = [h for h in real_plan.hosts if h.name != failing]
    short_sla = {"critical", "high"}
    late = sorted(h.name for h in patched if h.name not in canary and h.risk_class in short_sla)
    within = sorted(h.name for h in patched if h.name in canary or h.risk_class not in short_sla)
    assert late, "the fleet must have a wave host of a short-SLA class"
    assert data["totals"]["patched_late"] == len(late)
    assert data["totals"]["patched_within_sla"] == len(within)
    late_hosts = sorted(h["host"] for c in data["sla"] for h in c["hosts"] if h["late"])
    assert late_hosts == late
    assert data["totals"]["runs"] == 1
    assert data["totals"]["rehearsals"] == 1
    [rehearsed] = data["rehearsals"]
    assert rehearsed["run"] == rehearsal.run_id
    assert rehearsed["hosts"] == len(rehearsal_plan.targets)
    assert rehearsed["duration_seconds"] >= SOAK_HOURS * 3600

    [standing] = data["standing"]
    owner = fleet.get(failing).owner
    assert owner is not None
    assert (standing["host"], standing["status"], standing["run"]) == (failing, "failed", report.run_id)
    assert standing["owner_team"] == owner.team
    assert standing["due"] is not None

    approvals = [a for a in data["approvals"] if a["run"] == report.run_id]
    assert len(approvals) == sum(1 for s in real_plan.stages if s.approval_required)
    assert approvals
    assert all(a["approver"] == "lead@bastion" and a["comment"] == "CHG-4711" for a in approvals)

    [ttp] = data["time_to_patch"]
    assert (ttp["advisory"], ttp["targets"], ttp["patched"], ttp["complete"]) == (
        ADVISORY,
        len(real_plan.targets),
        len(real_plan.targets) - 1,
        False,
    )
    assert ttp["hours_from_import"] >= SOAK_HOURS
    assert ttp["hours_from_publication"] > ttp["hours_from_import"]
    assert data["decommissioned_answering"] == []  # the fleet's decommissioned entry has no host behind it
    assert data["audit"]["intact"]
    assert data["audit"]["records"] > 0

    rendered = render(page, tmp_path / "chromium")
    assert rendered.dom.count('class="main-svg"') >= 4  # plotly draws two SVG layers per plot
    assert rendered.dom.count('class="trace bars"') >= 4
    assert failing in rendered.dom
    assert rendered.screenshot.stat().st_size > 10_000
