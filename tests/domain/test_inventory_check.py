"""check_fleet and the per-owner summary: pure checks over a loaded inventory, fed from fleets built in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from patchorch.domain.fleet import Criticality, Fleet, Host
from patchorch.domain.inventory_check import (
    FindingCode,
    LoadedInventory,
    Severity,
    UnknownKey,
    check_fleet,
    inventory_report,
    suggest_variable,
    summarise_owners,
)
from patchorch.domain.policy import QuorumPolicy

OWNER = {"team": "mail", "contact": "mail@example.org"}


@dataclass(frozen=True)
class Loaded:
    """A loaded inventory made in memory; satisfies LoadedInventory like the real InventoryLoad."""

    fleet: Fleet
    in_limit: frozenset[str] | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unknown_keys: tuple[UnknownKey, ...] = ()


def host(name: str, **fields: Any) -> Host:
    """A fully declared host (owner, criticality, exposure) unless `fields` say otherwise."""
    data: dict[str, Any] = {"name": name, "owner": OWNER, "criticality": "high", "exposure": "internal", **fields}
    return Host.model_validate(data)


def loaded(*hosts: Host, **extra: Any) -> LoadedInventory:
    """A Loaded of these hosts; `groups` defaults to each host's own groups."""
    groups: dict[str, list[str]] = {}
    for item in hosts:
        for group in item.groups:
            groups.setdefault(group, []).append(item.name)
    extra.setdefault("groups", {group: tuple(names) for group, names in groups.items()})
    return Loaded(fleet=Fleet(hosts=hosts), **extra)


def codes(load: LoadedInventory) -> list[FindingCode]:
    """The codes of every finding, in report order."""
    return [finding.code for finding in check_fleet(load)]


def codes_with(load: LoadedInventory, quorum: QuorumPolicy) -> list[FindingCode]:
    """The codes of every finding under the policy's quorum default `quorum`."""
    return [finding.code for finding in check_fleet(load, quorum)]


def test_clean_fleet_has_no_findings() -> None:
    """A fleet with owners, declared metadata and sound clusters is clean."""
    load = loaded(host("a1", cluster="a", cluster_budget=1), host("a2", cluster="a"), host("b1"))
    assert check_fleet(load) == ()
    assert inventory_report(load).clean


def test_host_without_owner() -> None:
    """A host without an owner is a warning naming the host."""
    [finding] = check_fleet(loaded(host("h1", owner=None)))
    assert (finding.code, finding.severity, finding.host) == (FindingCode.NO_OWNER, Severity.WARNING, "h1")
    assert "h1 has no owner" in finding.message


def test_defaulted_criticality() -> None:
    """A host whose criticality took the default is a finding that says what was assumed."""
    [finding] = check_fleet(loaded(host("h1", defaulted={"criticality"})))
    assert finding.code is FindingCode.DEFAULTED_CRITICALITY
    assert finding.message == "h1 declares no patchorch_criticality: assumed high"


def test_defaulted_exposure() -> None:
    """A host whose exposure took the default is a finding too."""
    assert codes(loaded(host("h1", defaulted={"exposure"}))) == [FindingCode.DEFAULTED_EXPOSURE]


def test_cluster_budget_lets_every_member_go_down() -> None:
    """A budget of at least the member count ("100%", or 2 of 2) is an error naming the cluster."""
    for budget in ("100%", 2, 5):
        load = loaded(host("a1", cluster="a", cluster_budget=budget), host("a2", cluster="a"))
        [finding] = check_fleet(load)
        assert (finding.code, finding.severity, finding.cluster) == (FindingCode.CLUSTER_ALL_DOWN, Severity.ERROR, "a")
        assert finding.hosts == ("a1", "a2")


def test_budget_below_member_count_is_fine() -> None:
    """ "50%" of 4 keeps two members serving: no finding."""
    members = [host(f"i{n}", cluster="imap", cluster_budget="50%") for n in range(4)]
    assert check_fleet(loaded(*members)) == ()


def test_single_member_cluster() -> None:
    """A cluster of one member is a single point of failure, whatever its budget."""
    [finding] = check_fleet(loaded(host("solo", cluster="db", cluster_budget=1)))
    assert finding.code is FindingCode.SINGLE_MEMBER_CLUSTER
    assert "single point of failure" in finding.message


def test_decommissioned_host_with_services() -> None:
    """A decommissioned host that still lists services is an error."""
    old = host("old", lifecycle="decommissioned", exclude=True, services=["smtp"])
    assert codes(loaded(old)) == [FindingCode.DECOMMISSIONED_WITH_SERVICES]


def test_decommissioned_host_in_serving_group() -> None:
    """A decommissioned host in a group whose active members serve is still reached by plays against the group."""
    load = loaded(
        host("mx1", groups=["mx"], services=["smtp"]),
        host("old", groups=["mx"], lifecycle="decommissioned", exclude=True),
    )
    [finding] = check_fleet(load)
    assert (finding.code, finding.host) == (FindingCode.DECOMMISSIONED_IN_SERVING_GROUP, "old")
    assert "group mx" in finding.message


def test_decommissioned_host_in_quiet_group_is_fine() -> None:
    """A group of retired hosts, none serving, is where decommissioned hosts belong."""
    load = loaded(
        host("old1", groups=["retired"], lifecycle="decommissioned", exclude=True),
        host("old2", groups=["retired"], lifecycle="decommissioned", exclude=True),
    )
    assert check_fleet(load) == ()


def test_decommissioned_host_in_cluster_not_excluded() -> None:
    """A decommissioned host that is not excluded and still in a cluster is an error naming the cluster."""
    load = loaded(
        host("a1", cluster="a"), host("a2", cluster="a"), host("old", cluster="a", lifecycle="decommissioned")
    )
    [finding] = check_fleet(load)
    assert (finding.code, finding.cluster, finding.host) == (FindingCode.DECOMMISSIONED_IN_CLUSTER, "a", "old")


def test_unknown_keys_are_one_finding_per_variable() -> None:
    """Unknown variables become one finding per name, with the did-you-mean and every host carrying it."""
    keys = tuple(UnknownKey(name, "patchorch_exlude", "patchorch_exclude") for name in ("h1", "h2"))
    [finding] = check_fleet(loaded(host("h1"), host("h2"), unknown_keys=keys))
    assert finding.code is FindingCode.UNKNOWN_VARIABLE
    assert finding.hosts == ("h1", "h2")
    assert "patchorch_exlude is not a patchorch variable (did you mean patchorch_exclude?)" in finding.message


def test_limit_restricts_findings() -> None:
    """Only hosts inside the limit (and clusters with a member inside) are checked."""
    load = loaded(host("in", owner=None), host("out", owner=None), in_limit=frozenset({"in"}))
    assert [finding.host for finding in check_fleet(load)] == ["in"]


def test_findings_are_sorted_by_kind() -> None:
    """Findings come in report order: errors about clusters before warnings about hosts."""
    load = loaded(
        host("a", owner=None),
        host("b1", cluster="b", cluster_budget="100%"),
        host("b2", cluster="b"),
    )
    assert codes(load) == [FindingCode.CLUSTER_ALL_DOWN, FindingCode.NO_OWNER]


def test_owner_summary() -> None:
    """Each team gets its host count, hosts by criticality and clusters; unowned hosts come last."""
    hosts = [
        host("a1", criticality="critical", cluster="a"),
        host("a2", criticality="low", cluster="a"),
        host("x", owner=None),
    ]
    mail, unowned = summarise_owners(hosts)
    assert (mail.team, mail.contacts, mail.hosts, mail.clusters) == ("mail", ("mail@example.org",), 2, ("a",))
    assert mail.by_criticality == {
        Criticality.LOW: 1,
        Criticality.MEDIUM: 0,
        Criticality.HIGH: 0,
        Criticality.CRITICAL: 1,
    }
    assert (unowned.team, unowned.hosts) == (None, 1)


def test_report_groups_findings_and_serialises() -> None:
    """The report groups findings by kind and serialises to JSON for `check --json`."""
    report = inventory_report(loaded(host("a", owner=None), host("b", owner=None)))
    assert list(report.grouped()) == [FindingCode.NO_OWNER]
    data = report.model_dump(mode="json")
    assert data["findings"][0]["code"] == "no-owner"
    assert data["owners"][0]["team"] is None


def test_suggestions() -> None:
    """Typos get the closest documented variable; unrelated names get none."""
    assert suggest_variable("patchorch_exlude") == "patchorch_exclude"
    assert suggest_variable("patchorch_windows") == "patchorch_maintenance_windows"
    assert suggest_variable("patchorch_zzz") is None


def test_quorum_members_without_a_cluster_are_one_finding() -> None:
    """etcd members without a cluster are one warning under the smallest group, not one per group or host."""
    members = [host(f"node{i}", groups=("etcd", "k8s_cluster", "kube_control_plane")) for i in (1, 2, 3)]
    [finding] = [f for f in check_fleet(loaded(*members)) if f.code is FindingCode.QUORUM_WITHOUT_CLUSTER]
    assert finding.severity is Severity.WARNING
    assert finding.hosts == ("node1", "node2", "node3")
    assert "group etcd looks like quorum members" in finding.message
    assert "1 at a time" in finding.message


def test_quorum_patterns_come_from_the_policy() -> None:
    """With the policy's quorum groups emptied, the same hosts are no quorum finding."""
    members = [host(f"node{i}", groups=("etcd",)) for i in (1, 2, 3)]
    assert FindingCode.QUORUM_WITHOUT_CLUSTER not in codes_with(loaded(*members), QuorumPolicy(groups=()))


def test_peers_without_a_cluster_are_reported_once() -> None:
    """Hosts sharing a service in a group and its parent group are one finding, under the smaller group."""
    peers = [host(f"imap{i}", groups=("imap", "mail"), services=("imap",)) for i in (1, 2)]
    found = [f for f in check_fleet(loaded(*peers)) if f.code is FindingCode.PEERS_WITHOUT_CLUSTER]
    assert [f.message for f in found] == [
        "imap1, imap2 share group imap and service imap but declare no patchorch_cluster: "
        "nothing keeps them from going down together"
    ]
