"""What Ansible pays to load a rendered run: synthetic fleets of 1k and 10k hosts, planned, rendered and loaded.

For each size a seeded synthetic fleet (bench.synthetic) is written as a static YAML inventory (host names and
`ansible_host` only), planned with the default policy and rendered. Then, with the run's ansible.cfg, each of these is
timed (wall and child CPU) against the same two inventory sources (the user's file plus the generated groups file):

- `inventory_list`: `ansible-inventory --list`, the reference: what parsing the inventory alone costs;
- `syntax_check`: `ansible-playbook --syntax-check` of the largest stage's playbook;
- `list_hosts_group`: `ansible-playbook --list-hosts --limit <one batch group>` of that playbook;
- `list_hosts_names`: the same limited to the batch's host names, as patchorch's dispatcher passes them.

Each ratio is the command's CPU time over `inventory_list`'s (the machine is shared, so CPU time is what is
comparable; wall times are recorded beside it); the target is at most 1.5.

    .venv/bin/python -m bench.render_load               # writes bench/results/render_load.json
    .venv/bin/python -m bench.render_load 1000          # other sizes
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

SIZES = (1_000, 10_000)
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "render_load.json"
TARGET_RATIO = 1.5


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run `command` once; its wall time and the CPU its children used; fail loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "stdout_lines": done.stdout.count("\n")}


def measure(size: int, work: Path) -> dict[str, Any]:
    """Plan, render and load one synthetic fleet of `size` hosts under `work`."""
    from bench.synthetic import synthetic_fleet
    from patchorch.domain.plan import Mode
    from patchorch.orchestrator.planning import plan_fleet
    from patchorch.rendering.render import batch_group_name, render_run
    from patchorch.sources.policy import load_policy

    fleet = synthetic_fleet(size, seed=size)
    inventory = work / f"fleet-{size}.yml"
    hosts = {host.name: {"ansible_host": "127.0.0.1"} for host in fleet.hosts}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=True), encoding="utf-8")
    rollout = plan_fleet(fleet, load_policy(None), mode=Mode.REGULAR, now=NOW)
    started = time.perf_counter()
    run = render_run(rollout, work / f"run-{size}", inventory_sources=[inventory])
    render_s = time.perf_counter() - started

    stage = max(rollout.stages, key=lambda s: len(s.hosts))
    batch = max(stage.batches, key=lambda b: len(b.hosts))
    playbook = run.stage_playbook(stage.name)
    sources = [arg for source in run.inventory_sources for arg in ("-i", str(source))]
    env = dict(os.environ, ANSIBLE_CONFIG=str(run.ansible_cfg), ANSIBLE_NOCOLOR="1")
    bin_dir = Path(sys.executable).parent
    commands = {
        "inventory_list": [str(bin_dir / "ansible-inventory"), *sources, "--list"],
        "syntax_check": [str(bin_dir / "ansible-playbook"), *sources, "--syntax-check", str(playbook)],
        "list_hosts_group": [
            str(bin_dir / "ansible-playbook"),
            *sources,
            "--list-hosts",
            "--limit",
            batch_group_name(stage.name, batch.index),
            str(playbook),
        ],
        "list_hosts_names": [
            str(bin_dir / "ansible-playbook"),
            *sources,
            "--list-hosts",
            "--limit",
            ",".join(batch.hosts),
            str(playbook),
        ],
    }
    timings = {name: _timed(command, env, run.directory) for name, command in commands.items()}
    reference = timings["inventory_list"]["cpu_s"]
    for timing in timings.values():
        timing["ratio_to_inventory"] = round(timing["cpu_s"] / reference, 2) if reference else None
    return {
        "hosts": size,
        "targets": len(rollout.hosts),
        "stages": len(rollout.stages),
        "batches": sum(len(s.batches) for s in rollout.stages),
        "render_s": round(render_s, 2),
        "groups_file_kb": round((run.directory / "inventory" / "patchorch_groups.yml").stat().st_size / 1024, 1),
        "run_vars_kb": round((run.directory / "vars" / "run.yml").stat().st_size / 1024, 1),
        "stage": stage.name,
        "stage_hosts": len(stage.hosts),
        "stage_playbook_lines": playbook.read_text(encoding="utf-8").count("\n"),
        "limit_hosts": len(batch.hosts),
        "timings": timings,
        "within_target": all(
            t["ratio_to_inventory"] is not None and t["ratio_to_inventory"] <= TARGET_RATIO for t in timings.values()
        ),
    }


def main(argv: list[str]) -> int:
    """Measure each size in a scratch directory and write the results file."""
    sizes = [int(arg) for arg in argv] or list(SIZES)
    runs = []
    work = Path(tempfile.mkdtemp(prefix="patchorch-render-load-"))
    try:
        for size in sizes:
            result = measure(size, work)
            runs.append(result)
            timings = result["timings"].items()
            shown = ", ".join(f"{k} {v['cpu_s']:.1f}s cpu (x{v['ratio_to_inventory']})" for k, v in timings)
            sys.stderr.write(f"{size:>7} hosts: render {result['render_s']:.1f}s; {shown}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "render_load",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "target_ratio": TARGET_RATIO,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
