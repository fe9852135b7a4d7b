"""Real rollouts on the test fleet: ansible-runner over SSH to podman hosts, recorded in a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from patchorch.domain.outcomes import HostStatus
from patchorch.domain.plan import Stage
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.orchestrator.observers import Observer
from patchorch.orchestrator.processes import run_processes
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from patchorch.testing.fleet import Fault
from tests.integration.conftest import (
    ACME,
    NEW,
    OLD,
    UPGRADE_LINE,
    Fleet,
    StoreWatch,
    dispatched,
    outcomes_of,
    policy_file,
)

pytestmark = pytest.mark.fleet

PATCHORCH = [sys.executable, "-m", "patchorch"]


def _workspace(state_dir: Path) -> Workspace:
    # The fake clock makes retry back-offs and soaks instant; Ansible itself runs for real.
    return Workspace.open(state_dir, actor="pytest", clock=FakeClock())


def _start(fresh: Fleet, state_dir: Path, policy: Path):  # type: ignore[no-untyped-def]
    workspace = _workspace(state_dir)
    plan = workspace.plan([fresh.inventory], policy=policy, emergency=True, update=ACME)
    inputs = RunInputs(inventory=(str(fresh.inventory),))
    return workspace, plan, workspace.start(plan, inventory=[fresh.inventory], inputs=inputs)


def test_emergency_rollout_patches_every_host_and_records_versions(fresh: Fleet, state_dir: Path) -> None:
    """Every target gets acme-mta 1.0-2, its health service reports it, and the store has before and after."""
    workspace, plan, report = _start(fresh, state_dir, fresh.fleet.policy_path)
    assert report.state is RunState.COMPLETED, report.reason
    assert report.succeeded
    assert sorted(plan.targets) == sorted(h.name for h in fresh.fleet.hosts)
    for host in plan.targets:
        assert fresh.version(host) == NEW
        assert fresh.upgrades(host) == 1
    for attempt in workspace.store.attempts(report.run_id):
        assert attempt.status is HostStatus.PATCHED
        assert attempt.outcome is not None
        assert attempt.outcome.versions_before["acme-mta"] == OLD
        assert attempt.outcome.versions_after["acme-mta"] == NEW
    assert workspace.verify_audit() > 0


def test_broken_canary_halts_before_any_wave(fresh: Fleet, state_dir: Path) -> None:
    """A canary whose health check fails after the upgrade halts the rollout; no wave host is touched."""
    canary = next(h.name for h in fresh.fleet.hosts if h.canary)
    fresh.fleet.set_fault(canary, Fault.FAILING_HEALTH)
    workspace, plan, report = _start(fresh, state_dir, fresh.fleet.policy_path)
    assert report.state is RunState.HALTED
    assert f"canary failed on {canary}" in report.reason
    attempts = workspace.store.attempts(report.run_id)
    assert [a.host for a in attempts] == [canary]
    assert attempts[0].outcome is not None
    assert attempts[0].outcome.failed_step == "post-check"
    assert all(fresh.upgrades(h) == 0 for h in plan.targets if h != canary)


def test_unreachable_host_is_retried_then_spends_the_budget(fresh: Fleet, state_dir: Path, tmp_path: Path) -> None:
    """A host that goes away after the prepare phase is retried alone, each attempt recorded; then it counts as
    failed and halts the run."""

    class CutOffAfterPrepare(Observer):
        def stage_started(self, run_id: str, stage: Stage) -> None:
            if stage.name == "canary":  # the prepare phase is over: mx2 stops answering
                fresh.fleet.set_fault("mx2", Fault.UNREACHABLE)

    policy = policy_file(
        fresh.fleet, tmp_path, failure_budget=0, class_high__failure_budget=0, retries={"unreachable": 1}
    )
    workspace = Workspace.open(state_dir, actor="pytest", clock=FakeClock(), observers=[CutOffAfterPrepare()])
    plan = workspace.plan([fresh.inventory], policy=policy, emergency=True, update=ACME)
    report = workspace.start(plan, inventory=[fresh.inventory], inputs=RunInputs(inventory=(str(fresh.inventory),)))
    assert plan.unreachable_retries == 1
    mx2 = [a for a in workspace.store.attempts(report.run_id) if a.host == "mx2"]
    assert [(a.attempt, a.status) for a in mx2] == [(1, HostStatus.UNREACHABLE), (2, HostStatus.UNREACHABLE)]
    retried = [a for a in workspace.store.attempts(report.run_id) if a.attempt == 2]
    assert [a.host for a in retried] == ["mx2"]
    assert report.state is RunState.HALTED
    later = {h for s in plan.stages if s.index > plan.stage("wave-1-internet-high").index for h in s.hosts}
    assert later
    assert not later & {a.host for a in workspace.store.attempts(report.run_id)}


def test_a_failed_cluster_member_keeps_the_next_one_from_being_dispatched(
    fresh: Fleet, state_dir: Path, tmp_path: Path
) -> None:
    """mx1 fails its upgrade; with room for one mx member down, mx2 is not dispatched: the run halts, mx2 untouched."""
    fresh.fleet.set_fault("mx1", Fault.FAILING_UPGRADE)
    fresh.fleet.set_fault("mx2", Fault.FAILING_UPGRADE)
    policy = policy_file(fresh.fleet, tmp_path, failure_budget=1, class_high__failure_budget=5)
    workspace, plan, report = _start(fresh, state_dir, policy)
    assert plan.cluster_room["mx"] == 1
    assert report.state is RunState.HALTED
    assert "so mx2 cannot be patched without taking more down" in report.reason
    dispatched_hosts = [a.host for a in workspace.store.attempts(report.run_id)]
    assert "mx1" in dispatched_hosts
    assert "mx2" not in dispatched_hosts
    failed = next(a.outcome for a in workspace.store.attempts(report.run_id) if a.host == "mx1")
    assert failed is not None
    assert failed.failed_step == "update"
    assert fresh.version("mx1") == OLD
    assert fresh.upgrades("mx2") == 0


def test_approval_pauses_and_resume_completes(fresh: Fleet, state_dir: Path, tmp_path: Path) -> None:
    """A class that needs approval stops the run after the canary; approve and resume finish it."""
    policy = policy_file(fresh.fleet, tmp_path, class_high__approval=True)
    workspace, plan, report = _start(fresh, state_dir, policy)
    assert report.state is RunState.AWAITING_APPROVAL
    canary = plan.stages[0].hosts
    assert {a.host for a in workspace.store.attempts(report.run_id)} == set(canary)
    workspace.approve(report.run_id, "alice", comment="CHG-1")
    report = workspace.resume(report.run_id)
    assert report.state is RunState.AWAITING_APPROVAL  # the second high wave needs its own approval
    workspace.approve(report.run_id, "alice")
    report = workspace.resume(report.run_id)
    assert report.state is RunState.COMPLETED, report.reason
    assert all(fresh.upgrades(h) == 1 for h in plan.targets)
    assert [a.approver for a in workspace.store.approvals(report.run_id)] == ["alice", "alice"]


def _cli(state_dir: Path, *args: str) -> list[str]:
    return [*PATCHORCH, "--state-dir", str(state_dir), *args]


def _rollout_cli(fresh: Fleet, state_dir: Path) -> list[str]:
    return _cli(
        state_dir,
        "rollout",
        "--emergency",
        "--yes",
        "-i",
        str(fresh.inventory),
        "--policy",
        str(fresh.fleet.policy_path),
        "--package",
        "acme-mta",
    )


def _run_id(state_dir: Path) -> str:
    out = subprocess.run(_cli(state_dir, "runs", "--json"), capture_output=True, text=True, check=True).stdout
    import json

    return str(json.loads(out)[0]["id"])


def test_ctrl_c_cancels_the_stage_stops_ansible_and_exits_130(fresh: Fleet, state_dir: Path) -> None:
    """SIGINT during a batch: exit 130, the stage is cancelled, no ansible-playbook of the run survives."""
    fresh.fleet.set_fault("mx1", Fault.SLOW, seconds=20)
    watch = StoreWatch(state_dir / "patchorch.db")
    process = subprocess.Popen(_rollout_cli(fresh, state_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert watch.wait_for(dispatched("wave-1-internet-high"), timeout=120)
        run_id = _run_id(state_dir)
        assert _wait(lambda: bool(run_processes(run_id)), 30)  # ansible-playbook is running the batch
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert _wait(lambda: not run_processes(run_id), 15)
    workspace = _workspace(state_dir)
    assert workspace.store.run(run_id).state is RunState.INTERRUPTED
    stage = next(s for s in workspace.store.stages(run_id) if s.name == "wave-1-internet-high")
    assert stage.state is StageState.CANCELLED
    fresh.fleet.clear_fault("mx1")
    report = workspace.resume(run_id)
    assert report.state is RunState.COMPLETED, report.reason
    assert all(fresh.upgrades(h) == 1 for h in report.plan.targets)


# The shortest leases there are (10 s): a killed process's run lock and claims expire soon after it died.
SHORT_LEASES = {**os.environ, "PATCHORCH_RUN_LOCK_LEASE": "10s", "PATCHORCH_CLAIM_LEASE": "10s"}


def test_sigkill_at_several_points_then_resume_patches_each_host_once(fresh: Fleet, state_dir: Path) -> None:
    """kill -9 during the canary, between batches and during a wave; each resume reconciles and goes on:
    no host patched twice, no record lost or duplicated, the audit chain verifies, no ansible-playbook left."""
    watch = StoreWatch(state_dir / "patchorch.db")
    kill_points = [dispatched("canary"), outcomes_of("wave-1-internet-high"), dispatched("wave-2-internal-high")]
    command = _rollout_cli(fresh, state_dir)
    run_id = ""
    for point in kill_points:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=SHORT_LEASES)
        try:
            reached = watch.wait_for(point, timeout=180)
            process.kill()  # SIGKILL: no handler runs, nothing is cleaned up
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert reached, "the rollout never reached the kill point"
        run_id = run_id or _run_id(state_dir)
        # The killed process's run lock holds until its lease ends (nothing renews it): resume waits for that.
        command = _cli(state_dir, "resume", run_id, "--wait-for-claims", "1m")
    final = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=SHORT_LEASES)
    assert final.returncode == 0, final.stdout + final.stderr
    workspace = _workspace(state_dir)
    report = workspace.orchestrator.report(run_id)
    assert report.state is RunState.COMPLETED
    for host in report.plan.targets:
        assert fresh.upgrades(host) == 1, f"{host} was upgraded {fresh.upgrades(host)} times"
        assert fresh.version(host) == NEW
    attempts = workspace.store.attempts(run_id)
    assert all(a.status is not None for a in attempts), "an intent was left without an outcome"
    keys = [(a.stage, a.host, a.attempt) for a in attempts]
    assert len(keys) == len(set(keys))
    assert {h for h, s in report.hosts.items() if s is not None and s.is_success} == set(report.plan.targets)
    assert workspace.verify_audit() > 0
    assert run_processes(run_id) == []
    events = [r.event for r in workspace.store.audit_log(run_id)]
    assert events.count("run-created") == 1
    assert "reconciled" in events


def _configured(fresh: Fleet, host: str) -> bool:
    """dpkg on `host` has finished configuring acme-mta 1.0-2 (its postinst, where the slow fault waits, is over)."""
    log = fresh.fleet.exec(host, "cat", "/var/log/dpkg.log", check=False).stdout
    return f"status installed acme-mta:all {NEW}" in log.split(UPGRADE_LINE)[-1] and UPGRADE_LINE in log


def test_sigkill_mid_host_leaves_a_playbook_that_finishes_the_host_and_exits(fresh: Fleet, state_dir: Path) -> None:
    """kill -9 of `rollout` while dpkg upgrades the canary: the orphaned ansible-playbook finishes that host and exits
    by itself; resume waits for it while it works, records what it saw, and completes with the host upgraded once."""
    canary = next(h.name for h in fresh.fleet.hosts if h.canary)
    fresh.fleet.set_fault(canary, Fault.SLOW, seconds=20)  # the upgrade's postinst takes 20 s
    rollout = [*_rollout_cli(fresh, state_dir), "--limit", canary]  # one host: the test is about its playbook
    process = subprocess.Popen(rollout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=SHORT_LEASES)
    try:
        mid_host = _wait(lambda: fresh.upgrades(canary) == 1, 180)  # dpkg has unpacked 1.0-2: postinst runs
        process.kill()  # SIGKILL: the playbook loses its orchestrator mid-host
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert mid_host, "the canary's upgrade never started"
    assert not _configured(fresh, canary), "the canary had finished before the kill"
    run_id = _run_id(state_dir)
    orphans = set(run_processes(run_id))
    assert orphans, "no ansible-playbook outlived the orchestrator"
    resume = subprocess.Popen(
        _cli(state_dir, "resume", run_id, "--wait-for-claims", "1m"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=SHORT_LEASES,
    )
    try:
        finished = _wait(lambda: _configured(fresh, canary), 120)
        exited = _wait(lambda: not orphans & set(run_processes(run_id)), 60)
        output = resume.communicate(timeout=600)[0]
    finally:
        if resume.poll() is None:
            resume.kill()
    assert finished, "the orphaned playbook did not finish the canary"
    assert exited, f"the orphaned playbook finished its host but did not exit: {orphans & set(run_processes(run_id))}"
    assert resume.returncode == 0, output
    workspace = _workspace(state_dir)
    assert workspace.store.run(run_id).state is RunState.COMPLETED
    assert fresh.upgrades(canary) == 1, f"{canary} was upgraded {fresh.upgrades(canary)} times"
    audit = workspace.store.audit_log(run_id)
    watched = [r.data for r in audit if r.event == "survivors-watched"]
    assert len(watched) == 1, [r.event for r in audit]
    assert watched[0]["ended"] == "exited"  # by itself: resume stopped nothing
    assert watched[0]["progress_seen"] > 0
    assert orphans & {int(pid) for pid in watched[0]["found"]}
    assert "survivors-terminated" not in [r.event for r in audit]
    canary_attempts = [a for a in workspace.store.attempts(run_id) if a.host == canary]
    assert [a.status for a in canary_attempts] == [HostStatus.PATCHED]


def _wait(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # polling real processes, bounded
    return False


def test_library_example_script_runs(fresh: Fleet, state_dir: Path) -> None:
    """The README's automation example runs as a script against the fleet and exits 0."""
    script = Path(__file__).resolve().parents[2] / "examples" / "emergency_rollout.py"
    env = {**os.environ, "PATCHORCH_STATE_DIR": str(state_dir)}
    done = subprocess.run(
        [sys.executable, str(script), str(fresh.inventory), str(fresh.fleet.policy_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "completed" in done.stdout
    assert all(fresh.upgrades(h.name) == 1 for h in fresh.fleet.hosts)


def test_two_rollouts_racing_for_overlapping_hosts_upgrade_each_host_once(fresh: Fleet, tmp_path: Path) -> None:
    """Two operators (two state directories, one store) start rollouts over overlapping hosts at once: no host is
    upgraded by both; the run that met a claimed host pauses, and its resume finishes without upgrading it again."""
    names = [h.name for h in fresh.fleet.hosts]
    limits = (",".join(names[0:3]), ",".join(names[1:4]))
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    commands = []
    for n, limit in enumerate(limits, start=1):
        rollout = _rollout_cli(fresh, tmp_path / f"operator-{n}")
        at = rollout.index("rollout")  # --store-url is an option of patchorch, before the command
        commands.append([*rollout[:at], "--store-url", store, *rollout[at:], "--limit", limit])
    logs = [tmp_path / f"operator-{n}.log" for n in (1, 2)]
    outputs = [log.open("w") for log in logs]
    processes = [
        subprocess.Popen(c, stdout=out, stderr=subprocess.STDOUT) for c, out in zip(commands, outputs, strict=True)
    ]
    try:
        codes = [process.wait(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for out in outputs:
            out.close()
    told = "\n".join(f"exit {code}:\n{log.read_text()[-3000:]}" for code, log in zip(codes, logs, strict=True))
    assert all(code in (0, 1) for code in codes), told  # completed, or paused on the other's claim
    workspace = Workspace.open(tmp_path / "check", store_url=store, actor="pytest")
    runs = workspace.runs()
    assert len(runs) == 2
    said = "; ".join(f"{r.id}: {r.state.value}: {r.state_reason}" for r in runs)
    for run in runs:
        if run.state is RunState.PAUSED:
            assert "is claimed by run" in run.state_reason
            report = Workspace.open(tmp_path / "operator-3", store_url=store, actor="pytest").resume(run.id)
            assert report.state is RunState.COMPLETED, report.reason
    for host in names[0:4]:
        assert fresh.upgrades(host) == 1, f"{host} was upgraded {fresh.upgrades(host)} times ({said})\n{told}"
    assert workspace.store.claims() == []
    assert workspace.verify_audit() > 0
