"""Drills on the orchestrator: read-only, past prepare blockers, soaks shortened, approvals asked or skipped, and a
projection the real rollout meets exactly when its hosts take the durations injected into the simulated executor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from patchorch.clock import DrillClock
from patchorch.domain.drill import DrillReport, summarize_drill
from patchorch.domain.plan import PackageSpec, RolloutPlan, UpdateScope, UpdateSpec
from patchorch.domain.policy import Policy
from patchorch.domain.run import RunInputs, RunKind, RunState
from patchorch.orchestrator.engine import Orchestrator
from patchorch.orchestrator.workspace import Workspace
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor, memory_store
from tests.plans import FakeContent, make_plan

CONTENT = FakeContent()
DRILL = RunInputs(kind=RunKind.DRILL, check=True)
OWNER = "mail-team <mail@example.org>"


def _drill(
    plan: RolloutPlan, executor: SimulatedExecutor, base: FakeClock, tmp_path: Path, inputs: RunInputs = DRILL
) -> tuple[RunStore, DrillClock, RunState]:
    clock = DrillClock(base)
    store = memory_store(clock=clock)  # type: ignore[arg-type]  # any Clock serves the store
    report = Orchestrator(store, executor, clock=clock).start(plan, CONTENT, inputs, run_id="d")
    return store, clock, report.state


def _owned(plan: RolloutPlan, host: str) -> RolloutPlan:
    hosts = tuple(h.model_copy(update={"owner": OWNER}) if h.name == host else h for h in plan.hosts)
    return plan.model_copy(update={"hosts": hosts})


def test_drill_goes_on_past_a_prepare_blocker_and_names_its_owner(tmp_path: Path) -> None:
    """A host failing to prepare is a blocker with its owner; the other hosts are rehearsed in check mode."""
    base = FakeClock()
    executor = SimulatedExecutor(clock=base, fail_prepare={"b"})
    store, _, state = _drill(_owned(make_plan([[["c1"]], [["a", "b"]]]), "b"), executor, base, tmp_path)
    assert state is RunState.COMPLETED
    assert sorted(h for d in executor.dispatches for h in d.hosts) == ["a", "c1"]
    assert all(d.check for d in executor.dispatches + executor.prepares)
    assert executor.patched == {}
    summary = summarize_drill(
        store.run("d"), store.plan("d"), store.stages("d"), store.attempts("d"), store.audit_log("d")
    )
    assert [(b.host, b.owner, b.phase, b.step) for b in summary.blockers] == [("b", OWNER, "prepare", "precheck")]
    assert summary.duration_basis == {"c1": "drill", "a": "drill", "b": "drill-median"}
    assert summary.reason == "drill: 2 of 3 host(s) rehearsed in check mode; blockers: b"


def test_drill_skips_soaks_and_records_them_shortened(tmp_path: Path) -> None:
    """A 2h soak is not waited for: the base clock never sleeps, the drill clock moves on and the wait is recorded."""
    base = FakeClock()
    executor = SimulatedExecutor(clock=base, mean_seconds=0)
    store, clock, state = _drill(make_plan([[["c1"]], [["a"]]], soak=timedelta(hours=2)), executor, base, tmp_path)
    assert state is RunState.COMPLETED
    assert base.sleeps == []
    assert clock.skipped == 7200
    shortened = [r.data for r in store.audit_log("d") if r.event == "wait-shortened"]
    assert [w["seconds"] for w in shortened] == [7200]
    reached = {s.name: s.started_at for s in store.stages("d")}
    canary, wave = reached["canary"], reached["wave-1"]
    assert canary is not None
    assert wave is not None
    assert wave - canary >= timedelta(hours=2)


def test_drill_asks_the_approvers_like_a_rollout(tmp_path: Path) -> None:
    """Without --no-approvals a drill stops for the approval a stage requires."""
    base = FakeClock()
    executor = SimulatedExecutor(clock=base, mean_seconds=0)
    _, _, state = _drill(make_plan([[["c1"]], [["a"]]], approval={"wave-1"}), executor, base, tmp_path)
    assert state is RunState.AWAITING_APPROVAL


def test_drill_without_approvals_records_them_skipped_never_given(tmp_path: Path) -> None:
    """--no-approvals: the stage runs, an approval-skipped record names it, and no approval is recorded."""
    base = FakeClock()
    executor = SimulatedExecutor(clock=base, mean_seconds=0)
    inputs = DRILL.model_copy(update={"skip_approvals": True})
    store, _, state = _drill(make_plan([[["c1"]], [["a"]]], approval={"wave-1"}), executor, base, tmp_path, inputs)
    assert state is RunState.COMPLETED
    assert store.approvals("d") == []
    assert [r.data["stage"] for r in store.audit_log("d") if r.event == "approval-skipped"] == ["wave-1"]


def test_a_rollout_still_halts_on_a_prepare_failure(tmp_path: Path) -> None:
    """Only drills go on past a prepare failure: a rollout with the same fault halts before any dispatch."""
    base = FakeClock()
    executor = SimulatedExecutor(clock=base, fail_prepare={"b"})
    _, _, state = _drill(make_plan([[["c1"]], [["a", "b"]]]), executor, base, tmp_path, RunInputs())
    assert state is RunState.HALTED
    assert executor.dispatches == []


def test_drill_clock_skips_waits_without_sleeping() -> None:
    """Sleeping on a DrillClock moves its time on at once; its base clock never sleeps."""
    base = FakeClock()
    clock = DrillClock(base)
    before = clock.now()
    clock.sleep(90)
    assert clock.now() - before == timedelta(seconds=90)
    assert base.sleeps == []


# One host at a time: the simulated executor moves the fake clock by each host's duration, so the real rollout's
# duration is exactly what the dispatcher did with the durations injected, with nothing of the machine's load in it.
SERIAL = Policy.model_validate(
    {"classes": {"low": {"sla": "30d", "concurrency": 1}}, "wave_order": ["low"], "default_class": "low"}
)
HOSTS = {"c1": 40.0, "a": 75.0, "b": 20.0, "d": 130.0}
ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))


def _drill_then_rollout(
    tmp_path: Path, drilled: dict[str, float], real: dict[str, float]
) -> tuple[Workspace, DrillReport, float, dict[str, float]]:
    """Drill "drill" with hosts taking `drilled` seconds, then the real rollout of the same plan with hosts taking
    `real`: the workspace, the drill's report before the rollout, the rollout's duration and its stages' starts."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n" + "".join(f"    {h}:\n" for h in HOSTS))
    base = FakeClock()
    state = tmp_path / "state"
    rehearsal = Workspace.open(
        state, actor="pytest", clock=DrillClock(base), executor=SimulatedExecutor(clock=base, durations=drilled)
    )
    plan = rehearsal.plan([inventory], policy=SERIAL, update=ACME)
    report = rehearsal.drill(plan, inventory=[inventory], run_id="drill")
    workspace = Workspace.open(
        state, actor="pytest", clock=base, executor=SimulatedExecutor(clock=base, durations=real)
    )
    rollout = workspace.start(plan, inventory=[inventory], run_id="real")
    assert rollout.state is RunState.COMPLETED, rollout.reason
    run = workspace.store.run("real")
    starts = {
        s.name: (s.started_at - run.created_at).total_seconds() for s in workspace.store.stages("real") if s.started_at
    }
    return workspace, report, (run.updated_at - run.created_at).total_seconds(), starts


def test_the_real_rollout_takes_exactly_the_projected_time_when_hosts_take_the_drills_durations(
    tmp_path: Path,
) -> None:
    """With every host as fast as in the drill, the real rollout (its canary's soak included) ends when the drill
    projected and each stage starts when it projected."""
    _, report, took, starts = _drill_then_rollout(tmp_path, HOSTS, HOSTS)
    assert set(report.duration_basis.values()) == {"drill"}
    assert report.projected_seconds == took
    assert {s.name: s.projected_after_seconds for s in report.stages} == starts
    assert took == sum(HOSTS.values()) + 3600  # the canary's soak, which the drill skipped, is in the projection


def test_a_drill_after_a_real_run_projects_from_its_measured_durations(tmp_path: Path) -> None:
    """When the real update takes longer than its check-mode rehearsal, the drill's report read after a real run
    projects from the real run's durations, and that projection is exactly the real run's duration."""
    slower = {host: seconds * 3 for host, seconds in HOSTS.items()}
    workspace, before, took, _ = _drill_then_rollout(tmp_path, HOSTS, slower)
    after = workspace.drill_report("drill")
    assert before.projected_seconds < took
    assert set(after.duration_basis.values()) == {"measured"}
    assert after.projected_seconds == took
