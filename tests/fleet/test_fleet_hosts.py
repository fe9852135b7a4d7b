"""The session fleet, driven by real Ansible over SSH: ping, upgrade, reboot, and every fault mode."""

from __future__ import annotations

import pytest

from patchorch.testing.fleet import Fault, TestFleet

from .conftest import RunModule

pytestmark = pytest.mark.fleet

REBOOT_ARGS = "reboot_command='{{ patchorch_reboot_command }}' boot_time_command='{{ patchorch_boot_time_command }}'"


def _version(fleet: TestFleet, host: str) -> str:
    answer = fleet.health(host)
    assert answer is not None, f"{host}'s health service does not answer"
    return str(answer.body["version"])


def test_every_host_answers_ansible_ping(test_fleet: TestFleet, ansible: RunModule) -> None:
    """Every host of the fleet answers ansible.builtin.ping over SSH."""
    run = ansible("all:!retired", "ansible.builtin.ping")
    assert sorted(run.hosts) == sorted(h.name for h in test_fleet.hosts), run.output
    for name, host in run.hosts.items():
        assert (host.status, host.result.get("ping")) == ("SUCCESS", "pong"), name


def test_decommissioned_entry_has_no_host_behind_it(test_fleet: TestFleet, ansible: RunModule) -> None:
    """The decommissioned inventory entry is unreachable: no container listens on its port."""
    run = ansible(test_fleet.decommissioned_host, "ansible.builtin.ping")
    assert run[test_fleet.decommissioned_host].status == "UNREACHABLE"


def test_apt_upgrade_shows_in_the_health_service(test_fleet: TestFleet, ansible: RunModule) -> None:
    """Upgrading acme-mta with the apt module restarts its service on the new version, as /health reports."""
    assert _version(test_fleet, "mx1") == "1.0-1"
    run = ansible("mx1", "ansible.builtin.apt", "name=acme-mta state=latest")
    assert run["mx1"].status == "CHANGED", run.output
    assert _version(test_fleet, "mx1") == "1.0-2"


def test_reboot_changes_boot_id_and_clears_reboot_required(test_fleet: TestFleet, ansible: RunModule) -> None:
    """acme-tls's upgrade asks for a reboot; ansible.builtin.reboot with the host's reboot vars gets a new boot id."""
    upgrade = ansible("imap1", "ansible.builtin.apt", "name=acme-tls state=latest")
    assert upgrade["imap1"].status == "CHANGED", upgrade.output
    assert test_fleet.exec("imap1", "test", "-e", "/run/reboot-required", check=False).returncode == 0
    before = test_fleet.exec("imap1", "cat", "/run/fleet/boot_id").stdout.strip()

    reboot = ansible("imap1", "ansible.builtin.reboot", REBOOT_ARGS)

    assert (reboot["imap1"].status, reboot["imap1"].result.get("rebooted")) == ("CHANGED", True), reboot.output
    after = test_fleet.exec("imap1", "cat", "/run/fleet/boot_id").stdout.strip()
    assert after
    assert after != before
    # The host was really down for the reboot downtime, not just told it had rebooted.
    assert reboot["imap1"].result["elapsed"] >= int(test_fleet.reboot_downtime)
    assert test_fleet.exec("imap1", "test", "-e", "/run/reboot-required", check=False).returncode != 0
    assert _version(test_fleet, "imap1") == "1.0-1"


def test_unreachable_fault_makes_ansible_report_unreachable(test_fleet: TestFleet, ansible: RunModule) -> None:
    """With the unreachable fault Ansible reports the host UNREACHABLE, and reaches it again once cleared."""
    test_fleet.set_fault("relay1", Fault.UNREACHABLE)
    try:
        run = ansible("relay1", "ansible.builtin.ping")
        assert run["relay1"].status == "UNREACHABLE", run.output
    finally:
        test_fleet.clear_fault("relay1")
    assert ansible("relay1", "ansible.builtin.ping")["relay1"].status == "SUCCESS"


def test_failing_upgrade_fault_fails_the_apt_task(test_fleet: TestFleet, ansible: RunModule) -> None:
    """With the failing-upgrade fault the apt task fails and acme-mta stays on its old version."""
    test_fleet.set_fault("webmail1", Fault.FAILING_UPGRADE)
    try:
        run = ansible("webmail1", "ansible.builtin.apt", "name=acme-mta state=latest")
    finally:
        test_fleet.clear_fault("webmail1")
    assert run["webmail1"].status == "FAILED", run.output
    assert "failing-upgrade" in run.output
    assert _version(test_fleet, "webmail1") == "1.0-1"


def test_failing_health_fault_answers_503(test_fleet: TestFleet, ansible: RunModule) -> None:
    """With the failing-health fault a uri check from the host gets 503, and 200 again once cleared."""
    url = test_fleet.host("mx2").health_url
    test_fleet.set_fault("mx2", Fault.FAILING_HEALTH)
    try:
        run = ansible("mx2", "ansible.builtin.uri", f"url={url} status_code=200")
        assert (run["mx2"].status, run["mx2"].result.get("status")) == ("FAILED", 503), run.output
    finally:
        test_fleet.clear_fault("mx2")
    assert ansible("mx2", "ansible.builtin.uri", f"url={url} status_code=200")["mx2"].status == "SUCCESS"


def test_slow_fault_delays_the_upgrade(test_fleet: TestFleet, ansible: RunModule) -> None:
    """With the slow fault of 3 s the acme-mta upgrade takes at least 3 s and still succeeds."""
    test_fleet.set_fault("imap2", Fault.SLOW, seconds=3)
    try:
        run = ansible("imap2", "ansible.builtin.apt", "name=acme-mta state=latest")
    finally:
        test_fleet.clear_fault("imap2")
    assert run["imap2"].status == "CHANGED", run.output
    assert run.seconds >= 3
    assert "delayed 3s" in run["imap2"].result["stdout"]


def test_broken_upgrade_stops_the_service(test_fleet: TestFleet, ansible: RunModule) -> None:
    """Upgrading acme-broken to 1.0-2 succeeds for apt but leaves acme-mta's health service down."""
    try:
        run = ansible("relay1", "ansible.builtin.apt", "name=acme-broken state=latest")
        assert run["relay1"].status == "CHANGED", run.output
        assert test_fleet.health("relay1") is None
    finally:
        ansible("relay1", "ansible.builtin.apt", "name=acme-broken=1.0-1 allow_downgrade=true")
    assert _version(test_fleet, "relay1") == "1.0-1"
