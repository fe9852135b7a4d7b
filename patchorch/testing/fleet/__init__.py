"""The real test fleet: Debian containers on 127.0.0.1 that Ansible patches over SSH.

    fleet = TestFleet("dev", size=6)
    fleet.create()                      # image built once and cached; every host answers SSH when this returns
    fleet.inventory_path                # Ansible YAML inventory with patchorch_* metadata
    fleet.set_fault("mx1", Fault.UNREACHABLE)
    fleet.destroy()                     # only containers labelled patchorch.fleet=dev

The command line is `python -m patchorch.testing.fleet {create,status,destroy,fault,inventory}`.
"""

from __future__ import annotations

import shutil

from patchorch.testing.fleet._errors import FleetError
from patchorch.testing.fleet._fleet import (
    DEFAULT_BASE_PORT,
    DEFAULT_SIZE,
    FLEET_LABEL,
    CreateReport,
    Fault,
    FleetStatus,
    HostStatus,
    TestFleet,
    default_state_dir,
)
from patchorch.testing.fleet._image import ImageBuild
from patchorch.testing.fleet._inventory import BOOT_TIME_COMMAND, REBOOT_COMMAND, FleetHost
from patchorch.testing.fleet._podman import Podman
from patchorch.testing.fleet._probe import HealthAnswer, port_free
from patchorch.testing.fleet._repo import PackageVersion, available_versions, initial_versions

__all__ = [
    "BOOT_TIME_COMMAND",
    "DEFAULT_BASE_PORT",
    "DEFAULT_SIZE",
    "FLEET_LABEL",
    "REBOOT_COMMAND",
    "CreateReport",
    "Fault",
    "FleetError",
    "FleetHost",
    "FleetStatus",
    "HealthAnswer",
    "HostStatus",
    "ImageBuild",
    "PackageVersion",
    "TestFleet",
    "available_versions",
    "default_state_dir",
    "free_base_port",
    "initial_versions",
    "podman_unavailable",
]


def podman_unavailable() -> str | None:
    """None when podman can run containers here; else why not (no podman binary, or `podman info` fails)."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/install-fleet-deps.sh installs it)"
    return Podman().available()


def free_base_port(size: int, start: int = 44000, step: int = 50, attempts: int = 200) -> int:
    """The first base port from `start` (in steps of `step`) whose ssh, health and decommissioned ports are all free."""
    for candidate in range(start, start + step * attempts, step):
        ports = [candidate + i for i in range(size)] + [candidate + 1000 + i for i in range(size)] + [candidate + 999]
        if candidate + 1000 + size < 65536 and all(port_free(p) for p in ports):
            return candidate
    raise FleetError(f"no free block of ports for {size} hosts from {start}")
