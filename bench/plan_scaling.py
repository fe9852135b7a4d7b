"""How planning scales: synthetic fleets of 1k, 10k and 100k hosts, one subprocess per size.

For each size the child process builds the fleet (timed on its own: that is the inventory's cost, not the planner's),
then plans it regularly and in an emergency. Reported per size:

- `fleet_build_s`: constructing and validating the `Fleet` (every `Host` validated, as an inventory load does);
- `plan_first_s`: the first plan of that fleet (includes `Fleet.clusters`, computed once and cached), wall and CPU;
- `plan_repeat_s`: the best of further plans of the same fleet;
- `plan_fleet_frozen_s`: the best plan after `gc.freeze()` of the built fleet: the planner's own cost, without the
  full garbage collections its allocations trigger over the caller's (large) heap;
- `plan_peak_alloc_mb`: the planner's peak Python allocations (tracemalloc, in a separate timed-out-of run);
- `rss_fleet_mb` / `rss_peak_mb`: the process's max RSS after building the fleet and after planning.

    .venv/bin/python -m bench.plan_scaling              # writes bench/results/plan_scaling.json
    .venv/bin/python -m bench.plan_scaling 1000 20000   # other sizes
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIZES = (1_000, 10_000, 100_000)
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "plan_scaling.json"
REPEATS = 3


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size: int) -> dict[str, Any]:
    """Build one fleet of `size` hosts and time planning it; runs in a fresh process per size."""
    from bench.synthetic import synthetic_fleet
    from patchorch.domain.plan import Mode
    from patchorch.domain.planner import plan
    from patchorch.orchestrator.planning import plan_fleet
    from patchorch.sources.policy import load_policy

    policy = load_policy(None)
    started = time.perf_counter()
    fleet = synthetic_fleet(size, seed=size)
    fleet_build = time.perf_counter() - started
    rss_fleet = _rss_mb()

    result: dict[str, Any] = {"hosts": size, "fleet_build_s": round(fleet_build, 3)}
    result["rss_fleet_mb"] = round(rss_fleet, 1)
    for mode in (Mode.REGULAR, Mode.EMERGENCY):
        timings = []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            rollout = plan(fleet, policy, mode=mode, now=NOW)
            timings.append((time.perf_counter() - wall, time.process_time() - cpu))
            del rollout
        # The same plans with the fleet moved out of the collector's reach: what the planner itself costs, without
        # full collections that traverse the caller's heap (a CLI can do the same with gc.freeze() after loading).
        gc.collect()
        gc.freeze()
        frozen = []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            rollout = plan(fleet, policy, mode=mode, now=NOW)
            frozen.append((time.perf_counter() - wall, time.process_time() - cpu))
        gc.unfreeze()
        # What the library and the CLI do: the planner with the cyclic collector paused for the call.
        library = []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            rollout = plan_fleet(fleet, policy, mode=mode, now=NOW)
            library.append((time.perf_counter() - wall, time.process_time() - cpu))
        tracemalloc.start()
        plan(fleet, policy, mode=mode, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[mode.value] = {
            "plan_first_s": round(timings[0][0], 3),
            "plan_first_cpu_s": round(timings[0][1], 3),
            "plan_repeat_s": round(min(wall for wall, _ in timings[1:]), 3),
            "plan_repeat_cpu_s": round(min(cpu for _, cpu in timings[1:]), 3),
            "plan_fleet_frozen_s": round(min(wall for wall, _ in frozen), 3),
            "plan_library_s": round(min(wall for wall, _ in library), 3),
            "plan_library_cpu_s": round(min(cpu for _, cpu in library), 3),
            "plan_fleet_frozen_cpu_s": round(min(cpu for _, cpu in frozen), 3),
            "plan_peak_alloc_mb": round(peak / 2**20, 1),
            "targets": len(rollout.hosts),
            "stages": len(rollout.stages),
            "batches": sum(len(stage.batches) for stage in rollout.stages),
        }
    result["rss_peak_mb"] = round(_rss_mb(), 1)
    return result


def measure_first(size: int) -> dict[str, Any]:
    """A fresh fleet planned once, as `patchorch plan` does it: the library call, cluster index built on the way."""
    from bench.synthetic import synthetic_fleet
    from patchorch.domain.plan import Mode
    from patchorch.orchestrator.planning import plan_fleet
    from patchorch.sources.policy import load_policy

    policy = load_policy(None)
    fleet = synthetic_fleet(size, seed=size)
    result: dict[str, Any] = {}
    for mode in (Mode.REGULAR, Mode.EMERGENCY):
        fresh = fleet.model_copy()  # a copy has no cached cluster index yet
        wall = time.perf_counter()
        plan_fleet(fresh, policy, mode=mode, now=NOW)
        result[mode.value] = round(time.perf_counter() - wall, 3)
    return result


def main(argv: list[str]) -> int:
    """Measure each size in its own subprocess (so peak RSS is per size) and write the results file."""
    if argv[:1] == ["--child"]:
        sys.stdout.write(json.dumps(measure(int(argv[1]))) + "\n")
        return 0
    if argv[:1] == ["--child-first"]:
        sys.stdout.write(json.dumps(measure_first(int(argv[1]))) + "\n")
        return 0
    sizes = [int(arg) for arg in argv] or list(SIZES)
    environment = dict(os.environ, PYTHONHASHSEED="0")
    root = Path(__file__).resolve().parents[1]
    runs = []
    for size in sizes:
        done = subprocess.run(
            [sys.executable, "-m", "bench.plan_scaling", "--child", str(size)],
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(done.stdout)
        first = subprocess.run(
            [sys.executable, "-m", "bench.plan_scaling", "--child-first", str(size)],
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        run["library_first_plan_s"] = json.loads(first.stdout)
        runs.append(run)
        regular = run["regular"]
        sys.stderr.write(
            f"{size:>7} hosts: fleet {run['fleet_build_s']:.2f}s, plan {regular['plan_first_s']:.2f}s"
            f" (repeat {regular['plan_repeat_s']:.2f}s, fleet frozen {regular['plan_fleet_frozen_s']:.2f}s),"
            f" planner alloc peak {regular['plan_peak_alloc_mb']:.0f} MB, rss peak {run['rss_peak_mb']:.0f} MB\n"
        )
    report = {
        "benchmark": "plan_scaling",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
