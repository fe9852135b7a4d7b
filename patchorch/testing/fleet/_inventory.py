"""The fleet's hosts and roles, and the Ansible inventory that describes them with patchorch metadata.

Hosts take roles in turn (mx, imap, relay, webmail, mx, ...) so that any size gets the same deterministic mix:
two clusters with budgets, two owning teams, every criticality and exposure, exactly one canary, and one
decommissioned host that has no container behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from patchorch.testing.fleet._probe import LOOPBACK

REBOOT_COMMAND = "/usr/local/sbin/fleet-reboot"
BOOT_TIME_COMMAND = "cat /run/fleet/boot_id"
HEALTH_PORT_OFFSET = 1000
DECOMMISSIONED_PORT_OFFSET = 999
DECOMMISSIONED_HOST = "oldmx1"
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10"


@dataclass(frozen=True)
class Role:
    """What a group of hosts does and the patchorch metadata its members share."""

    group: str
    team: str
    contact: str
    criticality: str
    exposure: str
    services: tuple[str, ...]
    window: dict[str, Any]
    # An explicit override (reported as such); None lets the policy's rules decide.
    risk_class: str | None = None
    cluster: str | None = None
    budget: int | str | None = None

    def group_vars(self) -> dict[str, Any]:
        """The role's patchorch_* variables, as the group's vars in the inventory."""
        result: dict[str, Any] = {
            "patchorch_owner": {"team": self.team, "contact": self.contact},
            "patchorch_criticality": self.criticality,
            "patchorch_exposure": self.exposure,
            "patchorch_services": list(self.services),
            "patchorch_maintenance_windows": [dict(self.window)],
        }
        if self.risk_class is not None:
            result["patchorch_risk_class"] = self.risk_class
        if self.cluster is not None:
            result["patchorch_cluster"] = self.cluster
            result["patchorch_cluster_budget"] = self.budget
        return result


ROLES: tuple[Role, ...] = (
    Role(
        group="mx",
        team="mail-platform",
        contact="mail-oncall@example.org",
        criticality="high",
        exposure="internet",
        services=("smtp", "acme-mta"),
        window={"days": ["tue", "thu"], "start": "02:00", "duration": "2h", "timezone": "Europe/Berlin"},
        cluster="mx",
        budget=1,
    ),
    Role(
        group="imap",
        team="mail-platform",
        contact="mail-oncall@example.org",
        criticality="critical",
        exposure="internal",
        services=("imap", "acme-mta"),
        window={"days": ["sat"], "start": "22:00", "duration": "4h", "timezone": "Europe/Berlin"},
        cluster="imap",
        budget="50%",
    ),
    Role(
        group="relay",
        team="network-edge",
        contact="edge@example.org",
        criticality="medium",
        exposure="isolated",
        services=("smtp-relay", "acme-mta"),
        window={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:00", "duration": "1h30m", "timezone": "UTC"},
    ),
    Role(
        group="webmail",
        team="web-frontend",
        contact="web@example.org",
        criticality="low",
        exposure="partner",
        services=("https", "acme-mta"),
        risk_class="low",
        window={"days": ["wed"], "start": "03:00", "duration": "3h", "timezone": "UTC"},
    ),
)

RETIRED = Role(
    group="retired",
    team="mail-platform",
    contact="mail-oncall@example.org",
    criticality="low",
    exposure="internal",
    services=("smtp",),
    window={"days": ["sun"], "start": "01:00", "duration": "1h", "timezone": "UTC"},
)


@dataclass(frozen=True)
class FleetHost:
    """One host of the fleet: its inventory name, role, container and loopback ports."""

    name: str
    group: str
    index: int
    ssh_port: int
    health_port: int
    container: str
    canary: bool = False

    @property
    def health_url(self) -> str:
        """The URL of the host's health endpoint, reachable from the host itself and from this machine."""
        return f"http://{LOOPBACK}:{self.health_port}/health"


def plan_hosts(fleet: str, size: int, base_port: int) -> tuple[FleetHost, ...]:
    """The `size` hosts of fleet `fleet`: roles in turn, ssh on base+i, health on base+1000+i."""
    counts: dict[str, int] = {}
    hosts = []
    groups = [ROLES[i % len(ROLES)].group for i in range(size)]
    canary_group = "webmail" if "webmail" in groups else groups[-1] if groups else ""
    for index, group in enumerate(groups):
        counts[group] = counts.get(group, 0) + 1
        name = f"{group}{counts[group]}"
        hosts.append(
            FleetHost(
                name=name,
                group=group,
                index=index,
                ssh_port=base_port + index,
                health_port=base_port + HEALTH_PORT_OFFSET + index,
                container=f"{fleet}-{name}",
                canary=group == canary_group and counts[group] == 1,
            )
        )
    return tuple(hosts)


def decommissioned_port(base_port: int) -> int:
    """The port of the decommissioned host: inside the fleet's range, never listened on."""
    return base_port + DECOMMISSIONED_PORT_OFFSET


def health_checks(host: FleetHost) -> list[dict[str, Any]]:
    """The host's patchorch_health_checks: its HTTP endpoint, its TCP port, and a read-only dpkg query."""
    return [
        {"http": host.health_url, "status": 200, "body": "ok"},
        {"tcp": host.health_port},
        {"command": "dpkg-query -W acme-mta"},
    ]


def inventory(fleet: str, hosts: tuple[FleetHost, ...], base_port: int, key: Path) -> dict[str, Any]:
    """The Ansible YAML inventory of the fleet, as data (serialise it with `yaml.safe_dump`)."""
    children: dict[str, Any] = {}
    for role in ROLES:
        members = {h.name: _host_vars(h) for h in hosts if h.group == role.group}
        if members:
            children[role.group] = {"vars": role.group_vars(), "hosts": members}
    retired_vars = RETIRED.group_vars()
    retired_vars["patchorch_lifecycle"] = "decommissioned"
    children[RETIRED.group] = {
        "vars": retired_vars,
        "hosts": {DECOMMISSIONED_HOST: {"ansible_host": LOOPBACK, "ansible_port": decommissioned_port(base_port)}},
    }
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key.resolve()),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": SSH_COMMON_ARGS,
                "patchorch_lifecycle": "active",
                "patchorch_canary": False,
                "patchorch_exclude": False,
                "patchorch_package_manager": "apt",
                "patchorch_reboot": "if-required",
                "patchorch_os_family": "debian",
                "patchorch_os_version": "12",
                "patchorch_reboot_command": REBOOT_COMMAND,
                "patchorch_boot_time_command": BOOT_TIME_COMMAND,
            },
            "children": children,
        }
    }


def _host_vars(host: FleetHost) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ansible_host": LOOPBACK,
        "ansible_port": host.ssh_port,
        "patchorch_health_checks": health_checks(host),
    }
    if host.canary:
        result["patchorch_canary"] = True
    return result


class _InventoryDumper(yaml.SafeDumper):
    """A safe dumper that quotes clock times: YAML 1.1 readers may take an unquoted 22:00 for the integer 1320."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if re.fullmatch(r"\d+:\d+", value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_InventoryDumper.add_representer(str, _represent_str)


def dump_inventory(data: dict[str, Any]) -> str:
    """The inventory as YAML text."""
    return yaml.dump(data, Dumper=_InventoryDumper, sort_keys=False, default_flow_style=False, width=200)


def write_inventory(path: Path, data: dict[str, Any]) -> None:
    """Serialise the inventory to `path` (written whole, then renamed into place)."""
    partial = path.with_suffix(".partial")
    header = "# Written by `python -m patchorch.testing.fleet create`; regenerated on every create.\n"
    partial.write_text(header + dump_inventory(data))
    partial.rename(path)
