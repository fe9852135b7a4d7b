"""pytest plugin: the session's real test fleet (load it with `pytest_plugins = ["tests.fleet_fixture"]`).

`test_fleet` brings up 6 podman hosts under a name of its own (`pytest-<pid>`) on a free block of loopback ports,
yields the `TestFleet`, and destroys it at the end of the session. It skips only where podman cannot run at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from patchorch.testing.fleet import TestFleet, free_base_port, podman_unavailable

FLEET_SIZE = 6
# Reboots of the session fleet keep a host down this long: long enough to see, short enough for the suite.
REBOOT_DOWNTIME = 2.0


@pytest.fixture(scope="session")
def test_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestFleet]:
    """A running fleet of 6 hosts (mx1 imap1 relay1 webmail1 mx2 imap2) for the session, removed at its end."""
    reason = podman_unavailable()
    if reason is not None:
        pytest.skip(f"the test fleet needs podman: {reason}")
    # Sessions may run side by side: each starts its port search at its own offset.
    start = 44000 + (os.getpid() % 40) * 50
    fleet = TestFleet(
        f"pytest-{os.getpid()}",
        FLEET_SIZE,
        base_port=free_base_port(FLEET_SIZE, start=start),
        state_dir=tmp_path_factory.mktemp("fleet"),
        reboot_downtime=REBOOT_DOWNTIME,
    )
    try:
        fleet.create()
        yield fleet
    finally:
        fleet.destroy()


def reset_hosts(fleet: TestFleet) -> None:
    """Every fault cleared and every acme package back at 1.0-1 on every host, as right after `create`."""

    def reset(host: str) -> None:
        fleet.clear_fault(host)
        fleet.exec(
            host,
            "apt-get",
            "install",
            "-y",
            "-q",
            "--allow-downgrades",
            "acme-mta=1.0-1",
            "acme-broken=1.0-1",
            "acme-tls=1.0-1",
        )
        fleet.exec(host, "rm", "-f", "/run/reboot-required", "/var/run/reboot-required", "/var/lib/fleet/drained")

    with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
        list(pool.map(reset, [h.name for h in fleet.hosts]))


@pytest.fixture(scope="module")
def fresh_hosts(test_fleet: TestFleet) -> TestFleet:
    """The session fleet reset once for the module that asks: tests in other modules may have patched it."""
    reset_hosts(test_fleet)
    return test_fleet
