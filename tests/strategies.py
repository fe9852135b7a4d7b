"""Hypothesis strategies for the planner's inputs: fleets (hosts, clusters, windows) and policies."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from hypothesis import strategies as st

from patchorch.domain.advisory import OsRelease, PackageFact, PackageInstall, installs
from patchorch.domain.dispatch import DispatchHost, DispatchLimits, SimStage
from patchorch.domain.fleet import Fleet, Host, MaintenanceWindow
from patchorch.domain.policy import Policy

CLASS_NAMES = ("critical", "high", "medium", "low", "urgent")
CRITICALITIES = ("low", "medium", "high", "critical")
EXPOSURES = ("internet", "partner", "internal", "isolated")
SERVICES = ("smtp", "imap", "http", "dns")
OPERATING_SYSTEMS = (("debian", "12"), ("debian", "11"), ("rocky", "9"), (None, None))
CLUSTERS = ("c1", "c2", "c3", "c4")
# Two groups the built-in policy takes for quorum members (they overlap on some hosts), and two it does not.
GROUPS = ("etcd", "kube_control_plane", "web", "db")
WINDOWS: tuple[tuple[dict[str, Any], ...], ...] = (
    (),
    ({"days": ["sun"], "start": "02:00", "duration": "2h"},),
    ({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "duration": "1h", "timezone": "Europe/Berlin"},),
    # Opens only on Saturdays: outside a 1-day horizon from a Monday.
    ({"days": ["sat"], "start": "23:00", "duration": "30m", "timezone": "America/New_York"},),
)

host_names = st.from_regex(r"[a-z]{1,4}[0-9]{0,3}", fullmatch=True)
budgets = st.one_of(st.integers(min_value=0, max_value=4), st.sampled_from(["10%", "25%", "50%", "100%"]))
cluster_budgets = st.one_of(st.none(), st.integers(min_value=1, max_value=3), st.sampled_from(["34%", "50%"]))


@st.composite
def hosts_data(draw: st.DrawFn, name: str, cluster_budget: dict[str, object]) -> dict[str, Any]:
    """One host as inventory-like data; `cluster_budget` gives each cluster's (shared) declared budget."""
    os_family, os_version = draw(st.sampled_from(OPERATING_SYSTEMS))
    data: dict[str, Any] = {
        "name": name,
        "criticality": draw(st.sampled_from(CRITICALITIES)),
        "exposure": draw(st.sampled_from(EXPOSURES)),
        "services": draw(st.lists(st.sampled_from(SERVICES), max_size=2, unique=True)),
        "os_family": os_family,
        "os_version": os_version,
        "canary": draw(st.booleans()),
        "maintenance_windows": draw(st.sampled_from(WINDOWS)),
        "lifecycle": draw(st.sampled_from(["active"] * 8 + ["decommissioning", "decommissioned"])),
        "exclude": draw(st.integers(0, 9)) == 0,
        "unavailable": draw(st.integers(0, 6)) == 0,
        "groups": draw(st.lists(st.sampled_from(GROUPS), max_size=2, unique=True)),
    }
    cluster = draw(st.one_of(st.none(), st.sampled_from(CLUSTERS)))
    if cluster is not None:
        data["cluster"] = cluster
        if cluster_budget.get(cluster) is not None:
            data["cluster_budget"] = cluster_budget[cluster]
    return data


@st.composite
def fleets(draw: st.DrawFn, min_size: int = 0, max_size: int = 25) -> Fleet:
    """A fleet of unique host names, some clustered (with or without a budget), some excluded or unavailable."""
    names = draw(st.lists(host_names, min_size=min_size, max_size=max_size, unique=True))
    cluster_budget = {cluster: draw(cluster_budgets) for cluster in CLUSTERS}
    return Fleet(hosts=tuple(Host.model_validate(draw(hosts_data(name, cluster_budget))) for name in names))


@st.composite
def rules(draw: st.DrawFn, classes: list[str]) -> dict[str, Any]:
    """A rule with one to three conditions over criticality, exposure and services."""
    rule: dict[str, Any] = {"class": draw(st.sampled_from(classes))}
    conditions = draw(st.sets(st.sampled_from(["criticality", "exposure", "services"]), min_size=1))
    if "criticality" in conditions:
        rule["criticality"] = draw(st.lists(st.sampled_from(CRITICALITIES), min_size=1, max_size=2, unique=True))
    if "exposure" in conditions:
        rule["exposure"] = draw(st.lists(st.sampled_from(EXPOSURES), min_size=1, max_size=2, unique=True))
    if "services" in conditions:
        rule["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2, unique=True))
    return rule


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """A valid policy: one to five classes in a random wave order, random rules, canary and concurrency."""
    names = draw(st.lists(st.sampled_from(CLASS_NAMES), min_size=1, max_size=5, unique=True))
    classes = {
        name: {
            "sla": draw(st.sampled_from(["4h", "24h", "7d"])),
            "concurrency": draw(st.integers(min_value=1, max_value=5)),
            "soak": draw(st.sampled_from([0, "30m", "2h"])),
            "failure_budget": draw(budgets),
            "approval": draw(st.booleans()),
        }
        for name in names
    }
    canary_size = draw(st.one_of(st.integers(min_value=1, max_value=5), st.sampled_from(["5%", "20%", "50%", "99%"])))
    return Policy.model_validate(
        {
            "horizon": draw(st.sampled_from(["1d", "7d"])),
            "failure_budget": draw(budgets),
            "classes": classes,
            "wave_order": draw(st.permutations(names)),
            "rules": draw(st.lists(rules(names), max_size=4)),
            "default_class": draw(st.sampled_from(names)),
            "max_batches": draw(st.sampled_from([1, 2, 20])),
            "canary": {
                "size": canary_size,
                "max_per_pair": draw(st.sampled_from([None, 1, 2, 5])),
                "concurrency": draw(st.integers(min_value=1, max_value=3)),
            },
        }
    )


# --- advisory matching ----------------------------------------------------------------------------------------------

os_releases = st.sampled_from(
    [
        OsRelease(family="Debian", version="12", release="12.8", manager="dpkg"),
        OsRelease(family="Ubuntu", version="22", release="22.04", manager="dpkg"),
        OsRelease(family="RedHat", version="8", release="8.6", manager="rpm"),
        OsRelease(family="RedHat", version="9", release="9.4", manager="rpm"),
        OsRelease(family="SLES", version="15", release="15.5", manager="rpm"),
    ]
)
package_facts = st.builds(
    PackageFact,
    name=st.sampled_from(["exim4", "exim", "openssl", "libssl3", "kernel", "postfix", "bash", "acme-mta"]),
    version=st.from_regex(r"[1-9]\.[0-9]{1,2}(\.[0-9])?-[1-9](\.el[89]|\+deb12u[1-3])?", fullmatch=True),
)


@st.composite
def host_installs(draw: st.DrawFn, max_hosts: int = 6) -> tuple[PackageInstall, ...]:
    """Fleet-shaped installs of up to `max_hosts` hosts, each with at least one package."""
    names = draw(st.lists(host_names, min_size=1, max_size=max_hosts, unique=True))
    result: list[PackageInstall] = []
    for name in names:
        result.extend(installs(name, draw(os_releases), draw(st.lists(package_facts, min_size=1, max_size=4))))
    return tuple(result)


# -- dispatch --------------------------------------------------------------------------------------------------

# Windows as the dispatcher sees them: short ones (an hour, 30 minutes) so that durations often do not fit.
DISPATCH_WINDOWS: tuple[tuple[MaintenanceWindow, ...], ...] = (
    (),
    (MaintenanceWindow(days=("mon", "tue"), start=time(8, 30), duration=timedelta(hours=1)),),
    (MaintenanceWindow(days=("mon",), start=time(9, 0), duration=timedelta(minutes=30), timezone="Europe/Berlin"),),
    (
        MaintenanceWindow(days=("mon", "wed"), start=time(10, 0), duration=timedelta(minutes=45)),
        MaintenanceWindow(days=("mon",), start=time(10, 30), duration=timedelta(hours=2)),
    ),
)


@st.composite
def dispatch_stages(draw: st.DrawFn, use_windows: bool) -> tuple[SimStage, frozenset[str]]:
    """One wave stage of up to 30 hosts (clusters, durations, windows) and the hosts that fail in it."""
    names = draw(st.lists(host_names, min_size=1, max_size=30, unique=True))
    hosts = tuple(
        DispatchHost(
            name,
            draw(st.one_of(st.none(), st.sampled_from(CLUSTERS[:3]))),
            timedelta(minutes=draw(st.integers(min_value=1, max_value=90))),
            draw(st.sampled_from(DISPATCH_WINDOWS)) if use_windows else (),
        )
        for name in names
    )
    limits = DispatchLimits(
        concurrency=draw(st.integers(min_value=1, max_value=6)),
        room={cluster: draw(st.integers(min_value=1, max_value=3)) for cluster in CLUSTERS[:3]},
        failure_budget=draw(st.integers(min_value=0, max_value=3)),
        use_windows=use_windows,
        horizon=timedelta(days=2),
    )
    failing = frozenset(draw(st.lists(st.sampled_from(names), unique=True)))
    return SimStage("wave-1", hosts, limits), failing
