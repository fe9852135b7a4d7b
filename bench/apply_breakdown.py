"""Where a host's time goes: ansible-playbook start-up, the prepare phase and the disruptive apply, task by task.

    .venv/bin/python bench/apply_breakdown.py [--size 4] [--keep] [--label before]

Brings up a small test fleet of its own, plans the emergency acme-mta rollout of bench/overhead.py and renders it.
Then, with the rendered ansible.cfg, timing every task from ansible-runner's events (summed over hosts):
- start-up: ansible-playbook with the run's inventories on a play that matches no host (process, inventory, config);
- prepare: the prepare playbook over every host;
- apply: the stage playbook of each of `--apply-hosts` hosts on its own, after prepare (the dispatcher's way for a
  cluster with budget 1).
Writes bench/results/apply_breakdown.json (the slowest tasks per phase and the wall times); `--label` names the
entry so that a before and an after can sit side by side in the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "apply_breakdown.json"


def _playbook(rendered: object, playbook: Path, limit: str) -> tuple[float, list[tuple[str, float]], dict[str, int]]:
    """Wall seconds of one ansible-playbook (through ansible-runner), its tasks' summed durations (slowest first) and
    how many task results of each kind (ok, skipped, failed) it reported."""
    import ansible_runner

    durations: dict[str, float] = {}
    failed: list[str] = []
    counts: dict[str, int] = {}

    def handler(event: dict[str, object]) -> bool:
        data = event.get("event_data") or {}
        assert isinstance(data, dict)
        if str(event.get("event", "")).startswith("runner_on_") and "duration" in data:
            task = str(data.get("task", ""))
            kind = str(event["event"]).removeprefix("runner_on_")
            counts[kind] = counts.get(kind, 0) + 1
            durations[task] = durations.get(task, 0.0) + float(data["duration"])
            if event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
                failed.append(f"{data.get('host')}: {task}")
        return False

    with tempfile.TemporaryDirectory() as private:
        started = time.perf_counter()
        runner = ansible_runner.run(
            private_data_dir=private,
            playbook=str(playbook),
            inventory=[str(p) for p in rendered.inventory_sources],  # type: ignore[attr-defined]
            limit=limit,
            envvars={
                "ANSIBLE_CONFIG": str(rendered.ansible_cfg),  # type: ignore[attr-defined]
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            },
            event_handler=handler,
            quiet=True,
            suppress_env_files=True,
        )
        seconds = time.perf_counter() - started
    if runner.rc != 0:
        raise SystemExit(f"ansible-playbook {playbook.name} failed (rc {runner.rc}): {failed}")
    return seconds, sorted(((t, round(d, 2)) for t, d in durations.items()), key=lambda r: -r[1]), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--apply-hosts", type=int, default=2)
    parser.add_argument("--label", default="current")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from patchorch.orchestrator.workspace import Workspace
    from patchorch.rendering.render import render_run
    from patchorch.testing.fleet import TestFleet, free_base_port

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overhead import ACME, reset

    work = Path(tempfile.mkdtemp(prefix="patchorch-breakdown-"))
    fleet = TestFleet(
        "breakdown", args.size, base_port=free_base_port(args.size, start=48000), state_dir=work / "fleet"
    )
    fleet.create()
    try:
        workspace = Workspace.open(work / "state", actor="bench")
        plan = workspace.plan([fleet.inventory_path], policy=fleet.policy_path, emergency=True, update=ACME)
        rendered = render_run(plan, work / "run", inventory_sources=[fleet.inventory_path])
        stage_of = {h: s.name for s in plan.stages for h in s.hosts}
        hosts = list(plan.targets)
        reset(fleet)
        empty = work / "empty.yml"
        empty.write_text("- hosts: patchorch_no_such_group\n  gather_facts: false\n  tasks: []\n")
        startup = min(_playbook(rendered, empty, "all")[0] for _ in range(3))
        prepare_seconds, prepare_tasks, prepare_counts = _playbook(rendered, rendered.prepare_playbook, ",".join(hosts))
        singles = []
        for host in hosts[: args.apply_hosts]:
            seconds, tasks, counts = _playbook(rendered, rendered.stage_playbook(stage_of[host]), host)
            singles.append(
                {
                    "host": host,
                    "seconds": round(seconds, 2),
                    "task_seconds": round(sum(d for _, d in tasks), 2),
                    "results": counts,
                    "slowest_tasks": tasks[:15],
                }
            )
        result = {
            "label": args.label,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": os.getloadavg(),
            "hosts": args.size,
            "startup_seconds": round(startup, 2),
            "prepare": {
                "hosts": len(hosts),
                "seconds": round(prepare_seconds, 2),
                "task_seconds": round(sum(d for _, d in prepare_tasks), 2),
                "results": prepare_counts,
                "slowest_tasks": prepare_tasks[:15],
            },
            "apply_one_host_per_process": singles,
        }
        print(json.dumps(result, indent=2), flush=True)
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        previous[args.label] = result
        RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    finally:
        if not args.keep:
            fleet.destroy()


if __name__ == "__main__":
    main()
