"""What `patchorch inventory check` reports about a fleet: findings an operator should fix, and a summary per owner.

Pure: it reads a loaded inventory (anything shaped like `LoadedInventory`) and returns values; the CLI only renders
them. Findings are advice about metadata that validates but is probably wrong or risky; metadata that does not
validate never gets this far (the loader refuses it).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from patchorch.domain.fleet import Criticality, Fleet, Host, Lifecycle
from patchorch.domain.policy import QuorumPolicy
from patchorch.domain.redundancy import describe_services, unclustered_peers

_FROZEN = ConfigDict(frozen=True, extra="forbid")

VARIABLE_PREFIX = "patchorch_"
# Host fields that are not read from a `patchorch_*` variable of their own.
_DERIVED_FIELDS = frozenset({"name", "groups", "defaulted"})
# Documented variables patchorch does not interpret: they reach ansible.builtin.reboot through the inventory itself.
PASSTHROUGH_VARIABLES = frozenset({"patchorch_reboot_command", "patchorch_boot_time_command"})
# Every `patchorch_*` variable docs/INVENTORY.md documents.
KNOWN_VARIABLES = frozenset(
    {VARIABLE_PREFIX + name for name in Host.model_fields if name not in _DERIVED_FIELDS} | PASSTHROUGH_VARIABLES
)


@cache
def suggest_variable(key: str) -> str | None:
    """The documented `patchorch_*` variable `key` was probably meant to be, or None when nothing is close."""
    # Compare without the shared prefix, or every name would look close to every other.
    suffixes = sorted(name.removeprefix(VARIABLE_PREFIX) for name in KNOWN_VARIABLES)
    typed = key.removeprefix(VARIABLE_PREFIX)
    matches = difflib.get_close_matches(typed, suffixes, n=1, cutoff=0.6)
    if not matches and len(typed) >= 4:
        # A shortened name (`windows` for `maintenance_windows`) is a part of exactly one known name.
        matches = [name for name in suffixes if typed in name]
    return VARIABLE_PREFIX + matches[0] if len(matches) == 1 else None


@dataclass(frozen=True, slots=True)
class UnknownKey:
    """A `patchorch_*` variable on a host that patchorch does not know, with the closest known name."""

    host: str
    key: str
    suggestion: str | None = None


class LoadedInventory(Protocol):
    """What the checks read from a loaded inventory (`patchorch.sources.inventory.InventoryLoad` is one)."""

    @property
    def fleet(self) -> Fleet:
        """Every host of the inventory."""
        ...

    @property
    def in_limit(self) -> frozenset[str] | None:
        """Hosts inside `--limit`, or None without a limit."""
        ...

    @property
    def groups(self) -> Mapping[str, tuple[str, ...]]:
        """Hosts of each Ansible group, children's hosts included (not `all` or `ungrouped`)."""
        ...

    @property
    def unknown_keys(self) -> tuple[UnknownKey, ...]:
        """Unknown `patchorch_*` variables that a non-strict load recorded instead of refusing."""
        ...


class Severity(StrEnum):
    """How much a finding matters: errors make rollouts unsafe, warnings make reports less trustworthy."""

    ERROR = "error"
    WARNING = "warning"


class FindingCode(StrEnum):
    """Kinds of findings, in the order reports list them."""

    UNKNOWN_VARIABLE = "unknown-variable"
    CLUSTER_ALL_DOWN = "cluster-all-down"
    SINGLE_MEMBER_CLUSTER = "single-member-cluster"
    QUORUM_WITHOUT_CLUSTER = "quorum-without-cluster"
    PEERS_WITHOUT_CLUSTER = "peers-without-cluster"
    DECOMMISSIONED_WITH_SERVICES = "decommissioned-with-services"
    DECOMMISSIONED_IN_SERVING_GROUP = "decommissioned-in-serving-group"
    DECOMMISSIONED_IN_CLUSTER = "decommissioned-in-cluster"
    NO_OWNER = "no-owner"
    DEFAULTED_CRITICALITY = "defaulted-criticality"
    DEFAULTED_EXPOSURE = "defaulted-exposure"

    @property
    def heading(self) -> str:
        """A heading for the findings of this kind."""
        return _TITLES[self]

    @property
    def severity(self) -> Severity:
        """How much findings of this kind matter."""
        return Severity.WARNING if self in _WARNINGS else Severity.ERROR


_TITLES = {
    FindingCode.UNKNOWN_VARIABLE: "unknown patchorch_* variables",
    FindingCode.CLUSTER_ALL_DOWN: "clusters whose budget lets every member go down at once",
    FindingCode.SINGLE_MEMBER_CLUSTER: "clusters of one member (single points of failure)",
    FindingCode.QUORUM_WITHOUT_CLUSTER: "likely quorum members without a cluster (planned with the policy's budget)",
    FindingCode.PEERS_WITHOUT_CLUSTER: "hosts sharing a group and a service without a cluster",
    FindingCode.DECOMMISSIONED_WITH_SERVICES: "decommissioned hosts that still list services",
    FindingCode.DECOMMISSIONED_IN_SERVING_GROUP: "decommissioned hosts in groups of serving hosts",
    FindingCode.DECOMMISSIONED_IN_CLUSTER: "decommissioned hosts still in a cluster",
    FindingCode.NO_OWNER: "hosts without an owner",
    FindingCode.DEFAULTED_CRITICALITY: "hosts whose criticality was defaulted",
    FindingCode.DEFAULTED_EXPOSURE: "hosts whose exposure was defaulted",
}
_WARNINGS = frozenset(
    {
        FindingCode.SINGLE_MEMBER_CLUSTER,
        FindingCode.QUORUM_WITHOUT_CLUSTER,
        FindingCode.PEERS_WITHOUT_CLUSTER,
        FindingCode.NO_OWNER,
        FindingCode.DEFAULTED_CRITICALITY,
        FindingCode.DEFAULTED_EXPOSURE,
    }
)
_ORDER = {code: index for index, code in enumerate(FindingCode)}


class Finding(BaseModel):
    """One thing to fix: what kind, what it concerns (a host, a cluster, an owner) and a sentence saying why."""

    model_config = _FROZEN

    code: FindingCode
    severity: Severity
    message: str
    host: str | None = None
    cluster: str | None = None
    owner: str | None = None
    # Every host the finding concerns (one for a host finding, the members for a cluster, the carriers of a key).
    hosts: tuple[str, ...] = ()


class OwnerSummary(BaseModel):
    """What one team owns: how many hosts, how critical, in which clusters. `team` None collects unowned hosts."""

    model_config = _FROZEN

    team: str | None
    contacts: tuple[str, ...] = ()
    hosts: int = 0
    by_criticality: dict[Criticality, int]
    clusters: tuple[str, ...] = ()


class InventoryReport(BaseModel):
    """Findings sorted by kind then subject, and the per-owner summary: everything `inventory check` shows."""

    model_config = _FROZEN

    findings: tuple[Finding, ...] = ()
    owners: tuple[OwnerSummary, ...] = ()
    hosts: int = 0

    @property
    def clean(self) -> bool:
        """True when there is nothing to fix."""
        return not self.findings

    def grouped(self) -> dict[FindingCode, tuple[Finding, ...]]:
        """Findings by kind, kinds in report order, only kinds that occur."""
        result: dict[FindingCode, list[Finding]] = {}
        for finding in self.findings:
            result.setdefault(finding.code, []).append(finding)
        return {code: tuple(items) for code, items in result.items()}


def check_fleet(load: LoadedInventory, quorum: QuorumPolicy | None = None) -> tuple[Finding, ...]:
    """Every finding about the hosts inside the limit (all hosts without one), sorted by kind then subject.

    `quorum` is the policy's quorum default (the built-in one when None): which groups look like quorum members.
    """
    fleet = load.fleet
    selected = _selected(load)
    findings: list[Finding] = []
    findings.extend(_unknown_variables(load.unknown_keys, selected, fleet))
    findings.extend(_cluster_findings(fleet, selected))
    findings.extend(_redundancy_findings(fleet, selected, quorum if quorum is not None else QuorumPolicy()))
    findings.extend(_decommissioned_findings(fleet, selected, load.groups))
    findings.extend(_metadata_findings(fleet, selected))
    return tuple(sorted(findings, key=lambda f: (_ORDER[f.code], f.cluster or "", f.host or "", f.message)))


def summarise_owners(hosts: Iterable[Host]) -> tuple[OwnerSummary, ...]:
    """One summary per owning team, by team name, with unowned hosts last."""
    hosts_by_team: dict[str | None, list[Host]] = {}
    for host in hosts:
        hosts_by_team.setdefault(host.owner.team if host.owner else None, []).append(host)
    summaries = []
    for team in sorted(hosts_by_team, key=lambda t: (t is None, t or "")):
        members = hosts_by_team[team]
        counts = Counter(host.criticality for host in members)
        summaries.append(
            OwnerSummary(
                team=team,
                contacts=tuple(sorted({host.owner.contact for host in members if host.owner})),
                hosts=len(members),
                by_criticality={level: counts.get(level, 0) for level in Criticality},
                clusters=tuple(sorted({host.cluster for host in members if host.cluster})),
            )
        )
    return tuple(summaries)


def inventory_report(load: LoadedInventory, quorum: QuorumPolicy | None = None) -> InventoryReport:
    """Findings and the per-owner summary of the hosts inside the limit."""
    selected = _selected(load)
    hosts = [host for host in load.fleet if host.name in selected]
    return InventoryReport(findings=check_fleet(load, quorum), owners=summarise_owners(hosts), hosts=len(hosts))


def _selected(load: LoadedInventory) -> frozenset[str]:
    if load.in_limit is not None:
        return load.in_limit
    return frozenset(host.name for host in load.fleet)


def _team(fleet: Fleet, name: str) -> str | None:
    owner = fleet.get(name).owner if name in fleet else None
    return owner.team if owner else None


def _unknown_variables(keys: Iterable[UnknownKey], selected: frozenset[str], fleet: Fleet) -> Iterable[Finding]:
    # One finding per variable name: a typo in group_vars/all would otherwise make one finding per host.
    carriers: dict[tuple[str, str | None], list[str]] = {}
    for item in keys:
        if item.host in selected:
            carriers.setdefault((item.key, item.suggestion), []).append(item.host)
    for (key, suggestion), names in carriers.items():
        names.sort()
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        yield Finding(
            code=FindingCode.UNKNOWN_VARIABLE,
            severity=FindingCode.UNKNOWN_VARIABLE.severity,
            message=f"{key} is not a patchorch variable{hint}; set on {_some(names)}",
            host=names[0],
            owner=_team(fleet, names[0]),
            hosts=tuple(names),
        )


def _cluster_findings(fleet: Fleet, selected: frozenset[str]) -> Iterable[Finding]:
    for cluster in fleet.clusters.values():
        if not selected.intersection(cluster.members):
            continue
        owner = _team(fleet, cluster.members[0])
        size = len(cluster.members)
        if size == 1:
            yield Finding(
                code=FindingCode.SINGLE_MEMBER_CLUSTER,
                severity=FindingCode.SINGLE_MEMBER_CLUSTER.severity,
                message=(
                    f"cluster {cluster.name} has one member ({cluster.members[0]}): it is a single point of failure "
                    "and patching it takes the service down"
                ),
                cluster=cluster.name,
                owner=owner,
                hosts=cluster.members,
            )
        elif cluster.budget is not None and cluster.allowed_down >= size:
            yield Finding(
                code=FindingCode.CLUSTER_ALL_DOWN,
                severity=FindingCode.CLUSTER_ALL_DOWN.severity,
                message=(
                    f"cluster {cluster.name}: budget {cluster.budget} lets all {size} members go down at once "
                    f"(a budget of at most {size - 1} keeps one serving)"
                ),
                cluster=cluster.name,
                owner=owner,
                hosts=cluster.members,
            )


def _redundancy_findings(fleet: Fleet, selected: frozenset[str], quorum: QuorumPolicy) -> Iterable[Finding]:
    for peers in unclustered_peers(fleet, quorum.groups):
        if not selected.intersection(peers.hosts):
            continue
        if peers.quorum:
            code = FindingCode.QUORUM_WITHOUT_CLUSTER
            message = (
                f"group {peers.group} looks like quorum members but {_some(list(peers.hosts))} declare no "
                f"patchorch_cluster: plans patch them {quorum.budget} at a time (policy quorum default); declare "
                "patchorch_cluster and patchorch_cluster_budget to decide"
            )
        else:
            code = FindingCode.PEERS_WITHOUT_CLUSTER
            message = (
                f"{_some(list(peers.hosts))} share group {peers.group} and {describe_services(peers.services)}"
                " but declare no patchorch_cluster: nothing keeps them from going down together"
            )
        yield Finding(
            code=code,
            severity=code.severity,
            message=message,
            host=peers.hosts[0],
            owner=_team(fleet, peers.hosts[0]),
            hosts=peers.hosts,
        )


def _decommissioned_findings(
    fleet: Fleet, selected: frozenset[str], groups: Mapping[str, tuple[str, ...]]
) -> Iterable[Finding]:
    serving: dict[str, bool] = {}

    def group_serves(group: str) -> bool:
        # Computed once per group, and only for groups of decommissioned hosts: groups can be very large.
        if group not in serving:
            serving[group] = any(_serves(fleet.get(name)) for name in groups.get(group, ()) if name in fleet)
        return serving[group]

    for host in fleet:
        if host.lifecycle is not Lifecycle.DECOMMISSIONED or host.name not in selected:
            continue
        owner = host.owner.team if host.owner else None
        if host.services:
            yield _host_finding(
                FindingCode.DECOMMISSIONED_WITH_SERVICES,
                host,
                owner,
                f"{host.name} is decommissioned but still lists services {', '.join(host.services)}",
            )
        serving_groups = [group for group in host.groups if group_serves(group)]
        if serving_groups:
            yield _host_finding(
                FindingCode.DECOMMISSIONED_IN_SERVING_GROUP,
                host,
                owner,
                f"{host.name} is decommissioned but still in group{'s' if len(serving_groups) > 1 else ''} "
                f"{', '.join(serving_groups)} with active hosts that serve: plays against "
                f"{'them' if len(serving_groups) > 1 else 'it'} still reach {host.name}",
            )
        if host.cluster is not None and not host.exclude:
            yield _host_finding(
                FindingCode.DECOMMISSIONED_IN_CLUSTER,
                host,
                owner,
                f"{host.name} is decommissioned but not excluded and still a member of cluster {host.cluster}",
                cluster=host.cluster,
            )


def _metadata_findings(fleet: Fleet, selected: frozenset[str]) -> Iterable[Finding]:
    for host in fleet:
        if host.name not in selected:
            continue
        owner = host.owner.team if host.owner else None
        if host.owner is None:
            yield _host_finding(
                FindingCode.NO_OWNER, host, None, f"{host.name} has no owner: set patchorch_owner {{team, contact}}"
            )
        if "criticality" in host.defaulted:
            yield _host_finding(
                FindingCode.DEFAULTED_CRITICALITY,
                host,
                owner,
                f"{host.name} declares no patchorch_criticality: assumed {host.criticality}",
            )
        if "exposure" in host.defaulted:
            yield _host_finding(
                FindingCode.DEFAULTED_EXPOSURE,
                host,
                owner,
                f"{host.name} declares no patchorch_exposure: assumed {host.exposure}",
            )


def _host_finding(
    code: FindingCode, host: Host, owner: str | None, message: str, *, cluster: str | None = None
) -> Finding:
    return Finding(
        code=code,
        severity=code.severity,
        message=message,
        host=host.name,
        cluster=cluster,
        owner=owner,
        hosts=(host.name,),
    )


def _serves(host: Host) -> bool:
    return host.lifecycle is Lifecycle.ACTIVE and bool(host.services)


def _some(names: list[str], shown: int = 3) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


__all__ = [
    "KNOWN_VARIABLES",
    "PASSTHROUGH_VARIABLES",
    "Finding",
    "FindingCode",
    "InventoryReport",
    "LoadedInventory",
    "OwnerSummary",
    "Severity",
    "UnknownKey",
    "check_fleet",
    "inventory_report",
    "suggest_variable",
    "summarise_owners",
]
