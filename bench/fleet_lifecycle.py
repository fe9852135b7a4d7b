"""How long the test fleet takes to come up and go away, for 6 and for 30 hosts; writes bench/results/fleet.json.

    .venv/bin/python bench/fleet_lifecycle.py [--sizes 6 30] [--repeat 1] [--no-cold]

Creates run with the host image already cached (the first image build is measured on its own, into a scratch cache
and a scratch tag, so that fleets already running are not disturbed). "create" ends when every host lets root log
in over SSH; "destroy" ends when no container carries the fleet's label.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchorch.testing.fleet import FLEET_LABEL, TestFleet, free_base_port
from patchorch.testing.fleet._image import _debootstrap, _import, base_recipe_hash, ensure_image
from patchorch.testing.fleet._podman import Podman

RESULTS = Path(__file__).with_name("results") / "fleet.json"


def cold_image_build(podman: Podman) -> dict[str, float]:
    """debootstrap and import from nothing, into a scratch cache and tag that are removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as scratch:
        cache = Path(scratch)
        base = cache / f"base-{base_recipe_hash()[:16]}.tar"
        started = time.monotonic()
        _debootstrap(cache, base)
        debootstrapped = time.monotonic()
        tag = f"localhost/patchorch-fleet-bench:{os.getpid()}"
        _import(podman, base, cache / "host.tar", tag)
        imported = time.monotonic()
        podman.run("rmi", tag)
    return {
        "debootstrap_seconds": round(debootstrapped - started, 2),
        "import_seconds": round(imported - debootstrapped, 2),
        "total_seconds": round(imported - started, 2),
    }


def lifecycle(size: int, podman: Podman) -> dict[str, float]:
    """Create a fleet of `size` hosts on free ports, check it is ready, destroy it; seconds for each step."""
    name = f"bench-{os.getpid()}-{size}"
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as state:
        fleet = TestFleet(name, size, base_port=free_base_port(size, start=50000), state_dir=Path(state))
        try:
            started = time.monotonic()
            fleet.create()
            created = time.monotonic()
            status = fleet.status()
            if not status.ready:
                raise SystemExit(f"fleet {name} not ready after create: {status}")
        finally:
            destroying = time.monotonic()
            fleet.destroy()
            destroyed = time.monotonic()
        if podman.containers(FLEET_LABEL, name):
            raise SystemExit(f"containers of {name} left after destroy")
    return {"create_seconds": round(created - started, 2), "destroy_seconds": round(destroyed - destroying, 2)}


def main() -> None:
    """Run the measurements and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 30])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-cold", action="store_true", help="skip the first-image-build measurement")
    args = parser.parse_args()
    podman = Podman()
    ensure_image(podman)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "podman_runtime": "runc"},
        "image_cached": True,
        "sizes": {},
    }
    if not args.no_cold:
        results["first_image_build"] = cold_image_build(podman)
    for size in args.sizes:
        runs = [lifecycle(size, podman) for _ in range(args.repeat)]
        results["sizes"][str(size)] = {
            "runs": runs,
            "create_seconds_median": statistics.median(r["create_seconds"] for r in runs),
            "destroy_seconds_median": statistics.median(r["destroy_seconds"] for r in runs),
        }
        print(f"{size} hosts: {results['sizes'][str(size)]}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
