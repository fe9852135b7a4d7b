"""patchorch through its command line at 1k, 10k and 100k hosts, against `ansible-inventory --list` of the same fleet.

For each size a seeded synthetic fleet (bench.synthetic) becomes a dynamic inventory script: the script prints a
prepared `--list` listing (groups per site and role, each host's patchorch metadata, owner, maintenance windows and
connection variables as host variables), so its own cost is that of a fast CMDB export. Then, one process at a time,
each of these runs once (or in `--repeat=N` interleaved rounds: median times, highest RSS, every CPU time kept) and
is measured from outside (wall time, CPU time and peak RSS of the process and its children, read with wait4):

- `inventory_list`: `ansible-inventory -i SCRIPT --list`, the reference;
- `plan`: `patchorch plan -i SCRIPT` (the plan shown as a user sees it);
- `render`: `patchorch render -i SCRIPT -o DIR` (load, plan and render);
- `list_hosts`: `ansible-playbook --list-hosts --limit <one batch group>` of the largest stage's playbook in the
  rendered directory, with its ansible.cfg and inventory sources (the script plus the generated groups file).

patchorch's bytecode is compiled first, as installing it does: a source checkout run with PYTHONDONTWRITEBYTECODE
would otherwise compile every patchorch module at each start, a cost Ansible's installed modules never pay.

Each ratio is the command's CPU time (or peak RSS) over `inventory_list`'s: the machine is shared, so CPU time is what
is comparable; wall times are recorded beside it. Targets: plan <= 1.1, render <= 1.3, list_hosts <= 1.5 (CPU), peak
RSS of plan and render <= 1.2.

    nice .venv/bin/python -m bench.cli_scaling 1000 10000        # writes bench/results/cli_scaling.json
    nice .venv/bin/python -m bench.cli_scaling 100000            # merged into the same file by size
    nice .venv/bin/python -m bench.cli_scaling --repeat=5 1000   # 5 interleaved rounds: median CPU, max RSS, spread
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

SIZES = (1_000, 10_000, 100_000)
NOW = "2025-03-05T12:00:00+00:00"
RESULTS = Path(__file__).resolve().parent / "results" / "cli_scaling.json"
TARGETS = {"plan": 1.1, "render": 1.3, "list_hosts": 1.5}
RSS_TARGET = 1.2
# Each role's owning team, as a CMDB would export it.
TEAMS = {
    "mx": "Mail Platform",
    "imap": "Mail Platform",
    "web": "Web",
    "db": "Databases",
    "cache": "Databases",
    "app": "Applications",
    "batch": "Data",
    "bastion": "Security",
}


def listing(size: int) -> dict[str, Any]:
    """The `--list` listing of a synthetic fleet: groups by site and role, the metadata as host variables."""
    from bench.synthetic import synthetic_host_data

    groups: dict[str, list[str]] = {}
    hostvars: dict[str, dict[str, Any]] = {}
    for index, data in enumerate(synthetic_host_data(size, seed=size)):
        name = data["name"]
        site, role = data["groups"]
        groups.setdefault(site, []).append(name)
        groups.setdefault(role, []).append(name)
        variables = {
            f"patchorch_{key}": list(value) if isinstance(value, tuple) else value
            for key, value in data.items()
            if key not in ("name", "groups")
        }
        team = TEAMS[role]
        variables["patchorch_owner"] = {"team": team, "contact": team.lower().replace(" ", "-") + "@example.net"}
        variables["ansible_host"] = f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
        variables["ansible_user"] = "patch"
        hostvars[name] = variables
    result: dict[str, Any] = {group: {"hosts": sorted(hosts)} for group, hosts in sorted(groups.items())}
    result["all"] = {"children": sorted(groups)}
    result["_meta"] = {"hostvars": hostvars}
    return result


def _inventory_script(size: int, work: Path) -> Path:
    """A dynamic inventory script printing the prepared listing of `size` hosts."""
    data = work / f"listing-{size}.json"
    data.write_text(json.dumps(listing(size)), encoding="utf-8")
    script = work / f"cmdb-{size}.sh"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = "--list" ]; then exec cat {data}; else echo "{{}}"; fi\n', encoding="utf-8"
    )
    script.chmod(0o755)
    return script


def _measured(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run `command` once: wall time, CPU time and peak RSS of it and its children; fail loudly on a non-zero exit."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{' '.join(command[:3])} exited {process.returncode}: {tail}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _typical(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One command's figures over its repeated runs: median wall and CPU time, the highest peak RSS, and every CPU time
    (the spread a shared machine leaves) when it ran more than once."""
    typical = {
        "wall_s": round(statistics.median(sample["wall_s"] for sample in samples), 2),
        "cpu_s": round(statistics.median(sample["cpu_s"] for sample in samples), 2),
        "peak_rss_mb": max(sample["peak_rss_mb"] for sample in samples),
    }
    if len(samples) > 1:
        typical["cpu_s_runs"] = sorted(sample["cpu_s"] for sample in samples)
    return typical


def _batches(run_dir: Path) -> list[tuple[str, str]]:
    """Each batch of the rendered site.yml: its stage's playbook and its group, in order."""
    site = yaml.safe_load((run_dir / "site.yml").read_text(encoding="utf-8"))
    imports = [(play["ansible.builtin.import_playbook"], play.get("vars", {}).get("patchorch_hosts")) for play in site]
    return [(playbook, group) for playbook, group in imports if group]


def measure(size: int, work: Path, repeats: int = 1) -> dict[str, Any]:
    """Run the four commands on one synthetic fleet of `size` hosts under `work`, `repeats` rounds interleaved (so
    that a change of the machine's load falls on all four alike)."""
    script = _inventory_script(size, work)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", COLUMNS="160")
    state = ["--state-dir", str(work / f"state-{size}")]
    run_dir = work / f"run-{size}"
    patchorch = [str(bin_dir / "patchorch"), *state]
    commands = {
        "inventory_list": [str(bin_dir / "ansible-inventory"), "-i", str(script), "--list"],
        "plan": [*patchorch, "plan", "-i", str(script), "--now", NOW],
        "render": [*patchorch, "render", "-i", str(script), "-o", str(run_dir)],
    }
    groups = run_dir / "inventory" / "patchorch_groups.yml"
    play_env = dict(env, ANSIBLE_CONFIG=str(run_dir / "ansible.cfg"))
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in (*commands, "list_hosts")}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(_measured(command, env, work))
        # The stage with the most batches, and its first batch group.
        batches = _batches(run_dir)
        counts = Counter(playbook for playbook, _ in batches)
        playbook = counts.most_common(1)[0][0]
        group = next(group for name, group in batches if name == playbook)
        samples["list_hosts"].append(
            _measured(
                [str(bin_dir / "ansible-playbook"), "-i", str(script), "-i", str(groups), "--list-hosts", "--limit",
                 group, str(run_dir / playbook)],
                play_env,
                run_dir,
            )
        )  # fmt: skip
    timings = {name: _typical(runs) for name, runs in samples.items()}

    reference = timings["inventory_list"]
    for name, timing in timings.items():
        timing["cpu_ratio"] = round(timing["cpu_s"] / reference["cpu_s"], 2)
        timing["rss_ratio"] = round(timing["peak_rss_mb"] / reference["peak_rss_mb"], 2)
        if name in TARGETS:
            timing["cpu_target"] = TARGETS[name]
    within = all(timings[name]["cpu_ratio"] <= target for name, target in TARGETS.items()) and all(
        timings[name]["rss_ratio"] <= RSS_TARGET for name in ("plan", "render")
    )
    return {
        "hosts": size,
        "stages": len(counts),
        "batches": sum(counts.values()),
        "listing_mb": round((work / f"listing-{size}.json").stat().st_size / 2**20, 1),
        "groups_file_mb": round(groups.stat().st_size / 2**20, 2),
        "list_hosts_limit": group,
        "repeats": repeats,
        "timings": timings,
        "within_targets": within,
    }


def _compile_bytecode() -> None:
    """Compile patchorch's modules to bytecode beside their sources, as `pip install` does for an installed package."""
    import compileall

    import patchorch

    compileall.compile_dir(Path(patchorch.__file__).parent, quiet=1)


def main(argv: list[str]) -> int:
    """Measure each size in a scratch directory and merge the results into the results file (by size)."""
    repeats = next((int(arg.removeprefix("--repeat=")) for arg in argv if arg.startswith("--repeat=")), 1)
    sizes = [int(arg) for arg in argv if not arg.startswith("--")] or list(SIZES)
    _compile_bytecode()
    previous = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    runs = {run["hosts"]: run for run in previous.get("runs", ())}
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"patchorch-cli-scaling-{size}-"))
        try:
            result = measure(size, work, repeats)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
        runs[size] = result
        shown = ", ".join(
            f"{name} {t['cpu_s']:.1f}s cpu x{t['cpu_ratio']} {t['peak_rss_mb']:.0f}MB x{t['rss_ratio']}"
            for name, t in result["timings"].items()
        )
        sys.stderr.write(f"{size:>7} hosts: {shown}\n")
    report = {
        "benchmark": "cli_scaling",
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count()},
        "bytecode": "patchorch compiled before measuring, as an install does",
        "targets": {"cpu_ratio": TARGETS, "rss_ratio": RSS_TARGET},
        "runs": [runs[size] for size in sorted(runs)],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
