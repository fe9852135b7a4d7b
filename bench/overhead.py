"""Orchestrator overhead against bare ansible-playbook doing the same work on the same hosts in the same batches.

    .venv/bin/python bench/overhead.py [--size 30] [--rounds 1] [--keep]

Brings up a test fleet of its own (podman, SSH on 127.0.0.1), plans an emergency rollout of acme-mta, renders it,
then alternates:
- bare: `ansible-playbook -i INVENTORY -i GROUPS --limit BATCH STAGE.yml` for every batch in plan order, with the
  rendered ansible.cfg (what a person running the rendered playbooks by hand would do);
- patchorch: plan + render + record + prepare + dispatch + gate + record through `Workspace` (ansible-runner, SQLite
  store), with the CPU time patchorch's own process spent on it (`orchestrator_cpu_seconds`: planning, the store, the
  event fold, gates; ansible-playbook runs in child processes and is not in it).
Hosts are reset to acme-mta 1.0-1 before each run (not timed). Writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from patchorch.domain.plan import PackageSpec, RolloutPlan, UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.workspace import Workspace
from patchorch.rendering.render import RenderedRun, render_run
from patchorch.testing.fleet import TestFleet, free_base_port

RESULTS = Path(__file__).resolve().parent / "results" / "overhead.json"
ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))


def reset(fleet: TestFleet) -> None:
    """acme-mta back to 1.0-1 and no faults on every host."""

    def one(host: str) -> None:
        fleet.clear_fault(host)
        fleet.exec(host, "apt-get", "install", "-y", "-q", "--allow-downgrades", "acme-mta=1.0-1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, [h.name for h in fleet.hosts]))


def bare(plan: RolloutPlan, rendered: RenderedRun, stage_ends: dict[str, float] | None = None) -> float:
    """Seconds for ansible-playbook to run every batch of the plan, one after the other; `stage_ends`, when given,
    gets the seconds after the start at which each stage's last batch ended.

    Each batch refreshes the package index and downloads for itself (`patchorch_patch_prepared=false`), as a batch
    run without a prepare phase must.
    """
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    env = {**os.environ, "ANSIBLE_CONFIG": str(rendered.ansible_cfg)}
    inventory = [arg for source in rendered.inventory_sources for arg in ("-i", str(source))]
    started = time.perf_counter()
    for stage in plan.stages:
        for batch in stage.batches:
            command = [
                str(playbook_bin),
                *inventory,
                "--limit",
                ",".join(batch.hosts),
                "--forks",
                str(stage.concurrency),
                "-e",
                "patchorch_patch_prepared=false",
                str(rendered.stage_playbook(stage.name)),
            ]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"bare ansible-playbook failed on {batch.hosts}:\n{done.stdout[-3000:]}")
        if stage_ends is not None:
            stage_ends[stage.name] = time.perf_counter() - started
    return time.perf_counter() - started


def orchestrated(fleet: TestFleet, state: Path) -> tuple[float, dict[str, float]]:
    """Seconds for patchorch to plan, render, run and record the same rollout; and the split of that time, with the
    CPU time patchorch's own process spent (every thread of it; ansible-playbook and its workers are children)."""
    started = time.perf_counter()
    cpu = time.process_time()
    workspace = Workspace.open(state, actor="bench")
    plan = workspace.plan([fleet.inventory_path], policy=fleet.policy_path, emergency=True, update=ACME)
    planned = time.perf_counter()
    report = workspace.start(
        plan, inventory=[fleet.inventory_path], inputs=RunInputs(inventory=(str(fleet.inventory_path),))
    )
    total = time.perf_counter() - started
    own_cpu = time.process_time() - cpu
    if report.state is not RunState.COMPLETED or not report.succeeded:
        raise SystemExit(f"patchorch run did not complete: {report.state} {report.reason}")
    return total, {"plan_seconds": planned - started, "orchestrator_cpu_seconds": own_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="leave the fleet running afterwards")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="patchorch-bench-"))
    fleet = TestFleet("bench", args.size, base_port=free_base_port(args.size, start=46000), state_dir=work / "fleet")
    created = fleet.create()
    try:
        workspace = Workspace.open(work / "plan-state", actor="bench")
        plan = workspace.plan([fleet.inventory_path], policy=fleet.policy_path, emergency=True, update=ACME)
        rendered = render_run(plan, work / "bare-run", inventory_sources=[fleet.inventory_path])
        rounds = []
        for index in range(args.rounds):
            reset(fleet)
            bare_seconds = bare(plan, rendered)
            reset(fleet)
            patchorch_seconds, split = orchestrated(fleet, work / f"state-{index}")
            rounds.append(
                {
                    "bare_seconds": round(bare_seconds, 2),
                    "patchorch_seconds": round(patchorch_seconds, 2),
                    "ratio": round(patchorch_seconds / bare_seconds, 3),
                    **{k: round(v, 3) for k, v in split.items()},
                }
            )
            print(json.dumps(rounds[-1]), flush=True)
        result = {
            "benchmark": "orchestrator overhead vs bare ansible-playbook, same hosts, same batches",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "hosts": args.size,
            "stages": len(plan.stages),
            "batches": sum(len(s.batches) for s in plan.stages),
            "fleet_create_seconds": round(created.seconds, 2),
            "rounds": rounds,
            "ratio": round(sum(r["ratio"] for r in rounds) / len(rounds), 3),
            "target_ratio": 1.10,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            fleet.destroy()


if __name__ == "__main__":
    main()
