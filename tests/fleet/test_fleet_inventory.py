"""The fleet's inventory, host plan, mirror discovery and apt repository: checked without starting any host."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from patchorch.domain.fleet import Host, Lifecycle
from patchorch.testing.fleet import BOOT_TIME_COMMAND, REBOOT_COMMAND, TestFleet
from patchorch.testing.fleet._image import debian_mirror
from patchorch.testing.fleet._inventory import inventory, plan_hosts, write_inventory
from patchorch.testing.fleet._repo import build_repository

ANSIBLE_INVENTORY = Path(sys.executable).with_name("ansible-inventory")
REBOOT_VARS = {"patchorch_reboot_command", "patchorch_boot_time_command"}


def _hostvars(tmp_path: Path, size: int) -> dict[str, dict[str, Any]]:
    fleet = TestFleet("inv", size, base_port=42200, state_dir=tmp_path)
    path = tmp_path / "inventory.yml"
    write_inventory(path, inventory(fleet.name, fleet.hosts, fleet.base_port, fleet.ssh_key_path))
    listing = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(path), "--list"], capture_output=True, text=True, check=True
    )
    hostvars: dict[str, dict[str, Any]] = json.loads(listing.stdout)["_meta"]["hostvars"]
    return hostvars


def _domain_host(name: str, variables: dict[str, Any]) -> Host:
    fields = {
        key.removeprefix("patchorch_"): value
        for key, value in variables.items()
        if key.startswith("patchorch_") and key not in REBOOT_VARS
    }
    return Host(name=name, **fields)


def test_inventory_metadata_validates_as_domain_hosts(tmp_path: Path) -> None:
    """Every host's patchorch_* variables, as Ansible reads them, validate as a domain Host."""
    hostvars = _hostvars(tmp_path, 6)
    hosts = {name: _domain_host(name, variables) for name, variables in hostvars.items()}
    assert sorted(hosts) == ["imap1", "imap2", "mx1", "mx2", "oldmx1", "relay1", "webmail1"]
    assert hosts["mx1"].cluster == "mx"
    assert str(hosts["imap1"].cluster_budget) == "50%"


def test_inventory_has_the_promised_mix(tmp_path: Path) -> None:
    """One canary, clusters mx (budget 1) and imap (50%), two teams or more, one decommissioned entry."""
    hostvars = _hostvars(tmp_path, 6)
    hosts = [_domain_host(name, variables) for name, variables in hostvars.items()]
    assert [h.name for h in hosts if h.canary] == ["webmail1"]
    budgets = {h.cluster: str(h.cluster_budget) for h in hosts if h.cluster}
    assert budgets == {"mx": "1", "imap": "50%"}
    assert len({h.owner.team for h in hosts if h.owner}) >= 2
    assert len({h.criticality for h in hosts}) == 4
    assert len({h.exposure for h in hosts}) == 4
    assert [h.name for h in hosts if h.lifecycle is Lifecycle.DECOMMISSIONED] == ["oldmx1"]


def test_inventory_sets_connection_and_reboot_vars(tmp_path: Path) -> None:
    """Every host connects as root by key on 127.0.0.1 and names the fleet's reboot and boot-time commands."""
    hostvars = _hostvars(tmp_path, 6)
    for variables in hostvars.values():
        assert variables["ansible_host"] == "127.0.0.1"
        assert variables["ansible_user"] == "root"
        assert variables["ansible_ssh_private_key_file"] == str((tmp_path / "id_ed25519").resolve())
        assert "UserKnownHostsFile=/dev/null" in variables["ansible_ssh_common_args"]
        assert variables["patchorch_reboot_command"] == REBOOT_COMMAND
        assert variables["patchorch_boot_time_command"] == BOOT_TIME_COMMAND
    assert hostvars["mx2"]["patchorch_health_checks"][0] == {
        "http": "http://127.0.0.1:43204/health",
        "status": 200,
        "body": "ok",
    }


def test_inventory_names_only_documented_patchorch_vars(tmp_path: Path) -> None:
    """The inventory invents no patchorch_* variable beyond the metadata and the two reboot vars."""
    hostvars = _hostvars(tmp_path, 6)
    names = {key for variables in hostvars.values() for key in variables if key.startswith("patchorch_")}
    fields = {f"patchorch_{field}" for field in Host.model_fields} - {"patchorch_name", "patchorch_defaulted"}
    assert names - fields == REBOOT_VARS


def test_fifty_hosts_get_unique_names_and_ports() -> None:
    """A 50-host plan has unique names, ssh on base+i, health on base+1000+i, and exactly one canary."""
    hosts = plan_hosts("big", 50, 42200)
    assert len({h.name for h in hosts}) == 50
    assert [h.ssh_port for h in hosts] == list(range(42200, 42250))
    assert [h.health_port for h in hosts] == list(range(43200, 43250))
    assert sum(h.canary for h in hosts) == 1
    assert Counter(h.group for h in hosts) == {"mx": 13, "imap": 13, "relay": 12, "webmail": 12}


def test_mirror_comes_from_the_machines_apt_sources(tmp_path: Path) -> None:
    """The Debian mirror is the bookworm URI of a deb822 .sources file, not the security suite."""
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    (sources / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def _offered(index: Path) -> set[tuple[str, str]]:
    return {
        (stanza.split("Package: ")[1].split("\n")[0], stanza.split("Version: ")[1].split("\n")[0])
        for stanza in index.read_text().strip().split("\n\n")
    }


def test_repository_offers_every_version(tmp_path: Path) -> None:
    """Main and security suites together index both versions of acme-mta, acme-tls and acme-broken."""
    repo = tmp_path / "repo"
    build_repository(repo)
    offered = _offered(repo / "Packages") | _offered(repo / "security" / "Packages")
    assert offered == {(p, v) for p in ("acme-mta", "acme-tls", "acme-broken") for v in ("1.0-1", "1.0-2")}
    assert (repo / "initial.txt").read_text().split() == ["acme-mta=1.0-1", "acme-tls=1.0-1", "acme-broken=1.0-1"]


def test_security_suite_holds_the_security_fixes_only(tmp_path: Path) -> None:
    """The security suite offers acme-mta and acme-tls 1.0-2 (Release acme-security); acme-broken 1.0-2 is main."""
    repo = tmp_path / "repo"
    build_repository(repo)
    assert _offered(repo / "security" / "Packages") == {("acme-mta", "1.0-2"), ("acme-tls", "1.0-2")}
    assert ("acme-broken", "1.0-2") in _offered(repo / "Packages")
    release = (repo / "security" / "Release").read_text()
    assert "Suite: acme-security\n" in release
    assert "Label: acme-security\n" in release
