"""Safe defaults where the inventory says nothing about redundancy.

A host that declares no `patchorch_cluster` can be patched together with anything else. That is right for a lone
web server and wrong for the three etcd members of a Kubernetes cluster: patching two at once loses quorum. Two
rules, each said once here and used by `inventory check` and the planner:

- **Unclustered peers**: hosts without a cluster that share a group and a service (or share a group that looks like
  quorum members) probably back each other up; each such set is reported, once, under its smallest group.
- **Quorum default**: hosts without a cluster in a group the policy's `quorum.groups` patterns match are planned as
  one cluster, `quorum.budget` (1 by default) down at once. Overlapping groups make one cluster.

Pure: reads a `Fleet` and a `QuorumPolicy`, returns values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from patchorch.domain.eligibility import left_alone
from patchorch.domain.fleet import Fleet, Host
from patchorch.domain.policy import QuorumPolicy

__all__ = [
    "QUORUM_CLUSTER_PREFIX",
    "PeerSet",
    "describe_services",
    "quorum_groups",
    "unclustered_peers",
    "with_quorum_budgets",
]

# Names of the clusters the quorum default makes: `quorum:etcd+kube_control_plane`.
QUORUM_CLUSTER_PREFIX = "quorum:"


@dataclass(frozen=True, slots=True)
class PeerSet:
    """Hosts without a cluster that share `group` and `services` (none for a quorum-looking group)."""

    group: str
    services: tuple[str, ...]
    hosts: tuple[str, ...]
    quorum: bool


def describe_services(services: Sequence[str]) -> str:
    """`service imap` or `services imap, smtp`, for messages about a PeerSet."""
    return f"service{'s' if len(services) > 1 else ''} {', '.join(services)}"


def _candidate(host: Host) -> bool:
    """A host whose redundancy matters: it will be patched and declares no cluster of its own."""
    return host.cluster is None and left_alone(host) is None


def quorum_groups(groups: Iterable[str], patterns: Sequence[str]) -> frozenset[str]:
    """The group names that match one of the policy's quorum patterns (case-insensitive shell patterns)."""
    lowered = [pattern.lower() for pattern in patterns]
    return frozenset(group for group in groups if any(fnmatchcase(group.lower(), p) for p in lowered))


def _members(fleet: Fleet) -> dict[str, list[Host]]:
    """Per group, the candidate hosts in it."""
    members: dict[str, list[Host]] = {}
    for host in fleet:
        if _candidate(host):
            for group in host.groups:
                members.setdefault(group, []).append(host)
    return members


def unclustered_peers(fleet: Fleet, patterns: Sequence[str] = ()) -> tuple[PeerSet, ...]:
    """Every set of two or more unclustered hosts sharing a group and a service, or a quorum-looking group.

    A set of hosts is reported once, under the smallest group that holds it (then by name), so `all_mail` does not
    repeat what `imap` already says.
    """
    members = _members(fleet)
    quorum = quorum_groups(members, patterns)
    found: dict[tuple[tuple[str, ...], bool], PeerSet] = {}
    for group in sorted(members, key=lambda g: (len(members[g]), g)):
        hosts = members[group]
        if len(hosts) < 2:
            continue
        if group in quorum:
            names = tuple(sorted(h.name for h in hosts))
            found.setdefault((names, True), PeerSet(group, (), names, quorum=True))
            continue
        sharing: dict[str, list[str]] = {}
        for host in hosts:
            for service in set(host.services):
                sharing.setdefault(service, []).append(host.name)
        # The same hosts sharing several services are one set.
        services_of: dict[tuple[str, ...], list[str]] = {}
        for service, names_sharing in sorted(sharing.items()):
            if len(names_sharing) >= 2:
                services_of.setdefault(tuple(sorted(names_sharing)), []).append(service)
        for names, services in services_of.items():
            found.setdefault((names, False), PeerSet(group, tuple(services), names, quorum=False))
    return tuple(sorted(found.values(), key=lambda p: (not p.quorum, p.group, p.services)))


def with_quorum_budgets(fleet: Fleet, policy: QuorumPolicy) -> tuple[Fleet, Mapping[str, tuple[str, ...]]]:
    """The fleet with the quorum default applied, and each cluster it made with the groups it came from.

    Unclustered candidate hosts of matching groups join `quorum:<groups>` with the policy's budget. Returns the fleet
    unchanged (the same object) when no group matches.
    """
    members = _members(fleet)
    matched = sorted(g for g in quorum_groups(members, policy.groups) if len(members[g]) >= 2)
    if not matched:
        return fleet, {}
    # Union-find over hosts: groups that share a member become one cluster.
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for group in matched:
        first = members[group][0].name
        for host in members[group][1:]:
            parent[root(host.name)] = root(first)
        root(first)
    groups_of_root: dict[str, set[str]] = {}
    for group in matched:
        groups_of_root.setdefault(root(members[group][0].name), set()).add(group)
    name_of_root = {r: QUORUM_CLUSTER_PREFIX + "+".join(sorted(gs)) for r, gs in groups_of_root.items()}
    hosts = tuple(
        host.model_copy(update={"cluster": name_of_root[root(host.name)], "cluster_budget": policy.budget})
        if host.name in parent
        else host
        for host in fleet
    )
    # The hosts keep their order and were valid; only cluster fields changed, to values valid by construction.
    changed = Fleet.model_construct(hosts=hosts, source=fleet.source)
    return changed, {name: tuple(sorted(groups_of_root[r])) for r, name in name_of_root.items()}
