"""Makespan of an emergency rollout: bare ansible-playbook per batch, batch barriers, and the sliding-window dispatcher.

    .venv/bin/python bench/makespan.py [--size 30] [--simulated-only] [--keep]

Real part (the 30-host emergency rollout of bench/overhead.py, on a test fleet of its own, hosts reset between runs):
- bare: `ansible-playbook --limit BATCH` for every batch of the plan, one after the other, with the rendered stage
  playbooks and ansible.cfg, each batch refreshing the index and downloading for itself (bench/overhead.py's `bare`);
- barrier: the same batches one after the other through the executor (the way patchorch ran before: intent, run,
  record, gate, with the prepare phase inside every batch's own playbook: no separate prepare);
- dispatcher: `Workspace.start`, i.e. the prepare phase over all targets, then sliding-window dispatch;
- all at once: bare's own work (the same role, refreshing and downloading per host) on every target in one
  ansible-playbook with a fork per host: no budgets, no stage order, no prepare phase. No schedule of bare's work can
  do better on this machine, so `all_at_once_over_bare` is the floor for any dispatcher doing at least that work.
For the dispatcher run the lower bound comes from the plan's budgets and stage order with each host's measured apply
duration (`domain.dispatch.lower_bound`), plus the measured prepare phase; the time until every internet-exposed host
is patched is reported too. Each real run's CPU time (every process on the machine: controller, containers, their sshd
and package managers) is reported as well: bare's, spread over every core, is the shortest time any schedule doing the
same work could take on this machine (`bare_work_floor_over_bare`).

Simulated part: 1,000 synthetic hosts (bench/synthetic.py, the example estate's policy), log-normal apply durations
(median 10 minutes, sigma 0.6, seeded), emergency and regular plans: the dispatcher's makespan against the lower bound,
and what batch barriers would have taken. Writes bench/results/makespan.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchorch.domain.dispatch import lower_bound, plan_stages, project
from patchorch.domain.plan import Mode, RolloutPlan
from patchorch.domain.planner import plan as make_plan
from patchorch.rendering import RenderedRun
from patchorch.sources.policy import load_policy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.synthetic import synthetic_fleet  # bench/ is not a package on sys.path by default

RESULTS = Path(__file__).resolve().parent / "results" / "makespan.json"
EXAMPLE_POLICY = Path(__file__).resolve().parent.parent / "inventories" / "example-mail" / "policy.yml"
MEDIAN = timedelta(minutes=10)
SIGMA = 0.6


# -- simulated --------------------------------------------------------------------------------------------------


def lognormal_durations(plan: RolloutPlan, seed: int) -> dict[str, timedelta]:
    """A seeded log-normal apply duration per target: median 10 minutes, sigma 0.6."""
    rng = random.Random(seed)  # benchmark durations, not security
    mu = math.log(MEDIAN.total_seconds())
    return {host: timedelta(seconds=rng.lognormvariate(mu, SIGMA)) for host in plan.targets}


def barrier_makespan(plan: RolloutPlan, durations: dict[str, timedelta]) -> timedelta:
    """What batch barriers take: every batch waits for its slowest host, stages and soaks in order (emergency)."""
    total = timedelta(0)
    for position, stage in enumerate(plan.stages):
        total += sum((max(durations[h] for h in batch.hosts) for batch in stage.batches), timedelta(0))
        if position < len(plan.stages) - 1:
            total += stage.soak
    return total


def simulated(size: int, seed: int) -> dict[str, object]:
    """Dispatcher makespan over the lower bound for a synthetic estate, emergency and regular."""
    policy = load_policy(EXAMPLE_POLICY)
    fleet = synthetic_fleet(size, seed=seed)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    result: dict[str, object] = {"hosts": size, "seed": seed, "median_minutes": 10, "sigma": SIGMA}
    for mode in (Mode.EMERGENCY, Mode.REGULAR):
        rollout = make_plan(fleet, policy, mode=mode, now=now)
        durations = lognormal_durations(rollout, seed)
        timeline = project(rollout, durations=durations)
        entry: dict[str, object] = {
            "targets": len(rollout.targets),
            "stages": len(rollout.stages),
            "makespan_hours": round(timeline.makespan.total_seconds() / 3600, 3),
            "lower_bound_hours": round(timeline.lower_bound.total_seconds() / 3600, 3),
            "ratio": round(timeline.makespan / timeline.lower_bound, 4),
            "waiting_hosts": len(timeline.waiting),
            "max_in_flight": timeline.max_in_flight,
        }
        if mode is Mode.EMERGENCY:
            entry["barrier_makespan_hours"] = round(barrier_makespan(rollout, durations).total_seconds() / 3600, 3)
        result[mode.value] = entry
    return result


# -- real -------------------------------------------------------------------------------------------------------


def real(size: int, keep: bool) -> dict[str, object]:
    """The three ways side by side on one test fleet of `size` hosts."""
    from patchorch.orchestrator.workspace import Workspace
    from patchorch.rendering.render import render_run
    from patchorch.testing.fleet import TestFleet, free_base_port

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overhead import ACME, bare, orchestrated, reset  # the same rollout, runs and reset as bench/overhead.py

    work = Path(tempfile.mkdtemp(prefix="patchorch-makespan-"))
    fleet = TestFleet(
        "makespan", size, base_port=free_base_port(size, start=47000), state_dir=work / "fleet", ready_timeout=600
    )
    try:
        fleet.create()
        workspace = Workspace.open(work / "plan-state", actor="bench")
        plan = workspace.plan([fleet.inventory_path], policy=fleet.policy_path, emergency=True, update=ACME)
        rendered = render_run(plan, work / "bare-run", inventory_sources=[fleet.inventory_path])

        reset(fleet)
        busy = _busy_cpu_seconds()
        bare_stage_ends: dict[str, float] = {}
        bare_seconds = bare(plan, rendered, bare_stage_ends)
        bare_cpu = _busy_cpu_seconds() - busy

        reset(fleet)
        busy = _busy_cpu_seconds()
        barrier_seconds = _barrier(plan, rendered, work / "barrier-state")
        barrier_cpu = _busy_cpu_seconds() - busy

        reset(fleet)
        busy = _busy_cpu_seconds()
        all_at_once_seconds = _all_at_once(rendered, len(plan.targets))
        all_at_once_cpu = _busy_cpu_seconds() - busy

        reset(fleet)
        busy = _busy_cpu_seconds()
        new_seconds, _ = orchestrated(fleet, work / "new-state")  # plans, renders, prepares, dispatches, records
        new_cpu = _busy_cpu_seconds() - busy
        cpus = os.cpu_count() or 1
        new = Workspace.open(work / "new-state", actor="bench")
        run_id = new.runs()[0].id
        return {
            "hosts": size,
            "stages": len(plan.stages),
            "batches": sum(len(s.batches) for s in plan.stages),
            "bare_seconds": round(bare_seconds, 2),
            "barrier_seconds": round(barrier_seconds, 2),
            "dispatcher_seconds": round(new_seconds, 2),
            "dispatcher_over_bare": round(new_seconds / bare_seconds, 3),
            # Bare's own work with nothing holding it back: every target at once, one process, no budgets.
            "all_at_once_seconds": round(all_at_once_seconds, 2),
            "all_at_once_over_bare": round(all_at_once_seconds / bare_seconds, 3),
            "all_at_once_cpu_seconds": round(all_at_once_cpu, 1),
            # The machine's busy CPU time during each run: controller, containers and their sshd and package managers
            # all share these cores. Bare's CPU time spread over every core is the shortest any schedule doing bare's
            # work could take here, whatever its order.
            "cpus": cpus,
            "bare_cpu_seconds": round(bare_cpu, 1),
            "barrier_cpu_seconds": round(barrier_cpu, 1),
            "dispatcher_cpu_seconds": round(new_cpu, 1),
            "dispatcher_work_over_bare": round(new_cpu / bare_cpu, 3),
            "bare_work_floor_over_bare": round(bare_cpu / cpus / bare_seconds, 3),
            **_bounds(new, run_id, plan),
            # The same moment for bare: the end of the last stage of internet-exposed hosts (the rule of _bounds).
            "bare_internet_exposed_patched_after_seconds": max(
                (round(end, 2) for name, end in bare_stage_ends.items() if "internet" in name), default=None
            ),
        }
    finally:
        if not keep:
            fleet.destroy()


def _busy_cpu_seconds() -> float:
    """Seconds the cores of this machine have spent working since boot (user, nice, system, irq, softirq; not time
    the hypervisor stole)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _barrier(plan: RolloutPlan, rendered: RenderedRun, state: Path) -> float:
    """Seconds for the executor to run each batch in order, recording intent and outcomes (the old barrier path)."""
    from patchorch.domain.run import RunInputs
    from patchorch.execution.ansible import AnsibleRunnerExecutor
    from patchorch.execution.base import BatchRequest
    from patchorch.store.runs import RunStore

    state.mkdir(parents=True)
    store = RunStore.open(f"sqlite:///{state / 'runs.db'}", actor="bench")
    executor = AnsibleRunnerExecutor()
    started = time.perf_counter()
    store.create_run("barrier", plan, RunInputs())
    for stage in plan.stages:
        for batch in stage.batches:
            store.record_intent("barrier", stage.name, batch.index, 1, batch.hosts)
            request = BatchRequest(
                run_id="barrier",
                stage=stage.name,
                batch=batch.index,
                attempt=1,
                hosts=batch.hosts,
                playbook=_unprepared(rendered, stage.name),
                inventory=rendered.inventory_sources,
                ansible_cfg=rendered.ansible_cfg,
                forks=stage.concurrency,
            )
            outcome = executor.run_batch(request)
            store.record_outcomes("barrier", stage.name, 1, outcome.outcomes, evidence="ansible-runner events")
            if outcome.failed_hosts:
                raise SystemExit(f"barrier run failed on {outcome.failed_hosts}")
    return time.perf_counter() - started


def _all_at_once(rendered: RenderedRun, forks: int) -> float:
    """Seconds for one ansible-playbook to run the role as bare does (no prepare phase) on every target at once."""
    playbook = rendered.directory / "bench-all-at-once.yml"
    playbook.write_text(
        "- name: Bare's work on every target at once (bench only)\n"
        "  hosts: patchorch_targets\n"
        "  gather_facts: false\n"
        "  vars_files: [vars/run.yml, vars/settings.yml]\n"
        "  vars: {patchorch_patch_stage: all-at-once, patchorch_patch_phase: apply, patchorch_patch_prepared: false}\n"
        "  roles: [patchorch_patch]\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(rendered.ansible_cfg)}
    inventory = [arg for source in rendered.inventory_sources for arg in ("-i", str(source))]
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    command = [str(playbook_bin), *inventory, "--forks", str(forks), str(playbook)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"all-at-once ansible-playbook failed:\n{done.stdout[-3000:]}")
    return seconds


def _unprepared(rendered: RenderedRun, stage: str) -> Path:
    """A copy of the stage playbook that refreshes and downloads in every batch (no prepare phase), as before."""
    path = rendered.stage_playbook(stage)
    copy = path.with_name(f"unprepared-{path.name}")
    if not copy.exists():
        copy.write_text(path.read_text().replace("patchorch_patch_prepared: true", "patchorch_patch_prepared: false"))
    return copy


def _bounds(workspace: object, run_id: str, plan: RolloutPlan) -> dict[str, object]:
    """The lower bound for the measured apply durations, the prepare phase, and when the exposed hosts were done."""
    store = workspace.store  # type: ignore[attr-defined]
    attempts = store.attempts(run_id)
    run = store.run(run_id)
    audit = store.audit_log(run_id)
    started = run.created_at
    prepared_at = next(r.at for r in audit if r.event == "prepared")
    durations = {a.host: a.ended - a.started for a in attempts if a.ended is not None}
    stages = [s.__class__(s.name, s.hosts, s.limits, s.soak) for s in plan_stages(plan)]  # no earliest start: now
    apply_bound = lower_bound(stages, prepared_at, durations=durations)
    prepare_seconds = (prepared_at - started).total_seconds()
    bound = prepare_seconds + apply_bound.total_seconds()
    finished = max(a.ended for a in attempts if a.ended is not None)
    exposed = [a.ended for a in attempts if a.ended is not None and "internet" in a.stage]
    makespan = (finished - started).total_seconds()
    return {
        "prepare_seconds": round(prepare_seconds, 2),
        "recorded_makespan_seconds": round(makespan, 2),
        "lower_bound_seconds": round(bound, 2),
        "dispatcher_over_lower_bound": round(makespan / bound, 3),
        "internet_exposed_patched_after_seconds": round((max(exposed) - started).total_seconds(), 2)
        if exposed
        else None,
        "plan_projection_seconds": project(plan).makespan.total_seconds(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--simulated-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--simulated-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the fleet running afterwards")
    args = parser.parse_args()
    # A `timeout` (SIGTERM) must still destroy the fleet: turn it into SystemExit so that `finally` runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result: dict[str, object] = {
        "benchmark": "emergency makespan: bare per batch vs batch barriers vs sliding-window dispatch with prepare",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "simulated": simulated(args.simulated_size, args.seed),
        "targets": {"dispatcher_over_bare": 0.5, "dispatcher_over_lower_bound": 1.2, "simulated_ratio": 1.15},
    }
    print(json.dumps(result["simulated"], indent=2), flush=True)
    if not args.simulated_only:
        result["real"] = real(args.size, args.keep)
        print(json.dumps(result["real"], indent=2), flush=True)
    elif RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        if "real" in previous:
            result["real"] = previous["real"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
