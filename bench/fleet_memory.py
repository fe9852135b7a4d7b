"""What a loaded fleet costs in memory: Python allocations held by a synthetic `Fleet` of 1k, 10k and 100k hosts.

The fleet is built as an inventory load builds it (bench.synthetic: one validated template per distinct set of
declarations, values shared, named per host); tracemalloc counts what the built `Fleet` still holds once the input
data is gone. Each size runs in a fresh process.

    .venv/bin/python -m bench.fleet_memory              # writes bench/results/fleet_memory.json
"""

from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIZES = (1_000, 10_000, 100_000)
RESULTS = Path(__file__).resolve().parent / "results" / "fleet_memory.json"


def measure(size: int) -> dict[str, Any]:
    """The Python memory a fleet of `size` synthetic hosts holds (in this process)."""
    from bench.synthetic import synthetic_fleet

    gc.collect()
    tracemalloc.start()
    fleet = synthetic_fleet(size, seed=size)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "hosts": len(fleet),
        "fleet_mb": round(held / 2**20, 1),
        "build_peak_mb": round(peak / 2**20, 1),
        "bytes_per_host": round(held / size),
    }


def main(argv: list[str]) -> int:
    """Measure each size in a child process and write the results file."""
    if argv[:1] == ["--child"]:
        sys.stdout.write(json.dumps(measure(int(argv[1]))) + "\n")
        return 0
    runs = []
    for size in [int(arg) for arg in argv] or SIZES:
        command = [sys.executable, "-m", "bench.fleet_memory", "--child", str(size)]
        child = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(child.stdout))
        sys.stderr.write(f"{size:>7} hosts: {runs[-1]['fleet_mb']} MB ({runs[-1]['bytes_per_host']} B/host)\n")
    report = {
        "benchmark": "fleet_memory",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count()},
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
