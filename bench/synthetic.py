"""A seeded synthetic fleet: sites, clusters, criticalities, exposures, services, OS versions and windows.

Reusable by every benchmark: the same `size` and `seed` give the same fleet on every machine and Python.

    >>> from bench.synthetic import synthetic_fleet
    >>> fleet = synthetic_fleet(1_000, seed=7)
    >>> len(fleet)
    1000
"""

from __future__ import annotations

import random
from typing import Any

from patchorch.domain.fleet import Fleet, Host

ROLES = (
    # role, services, exposure weights (internet, partner, internal, isolated), clustered
    ("mx", ("smtp",), (6, 1, 3, 0), True),
    ("imap", ("imap", "pop3"), (3, 0, 7, 0), True),
    ("web", ("http", "https"), (7, 1, 2, 0), True),
    ("db", ("postgres",), (0, 0, 8, 2), True),
    ("cache", ("redis",), (0, 0, 9, 1), True),
    ("app", ("app",), (1, 2, 7, 0), True),
    ("batch", (), (0, 0, 6, 4), False),
    ("bastion", ("ssh",), (9, 1, 0, 0), False),
)
OS = (("debian", "12"), ("debian", "11"), ("ubuntu", "22.04"), ("ubuntu", "24.04"), ("rocky", "9"), ("rhel", "8"))
CRITICALITIES = ("low", "medium", "high", "critical")
EXPOSURES = ("internet", "partner", "internal", "isolated")
WINDOWS: tuple[dict[str, Any] | None, ...] = (
    None,
    None,
    {"days": ["sun"], "start": "02:00", "duration": "4h", "timezone": "Europe/Berlin"},
    {"days": ["tue", "thu"], "start": "22:00", "duration": "2h", "timezone": "America/New_York"},
    {"days": ["sat"], "start": "01:00", "duration": "3h", "timezone": "UTC"},
)


def synthetic_host_data(size: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """`size` hosts as inventory-like mappings (Host fields), deterministic for a seed."""
    rng = random.Random(seed)
    sites = max(1, size // 500)
    hosts: list[dict[str, Any]] = []
    cluster_number = 0
    while len(hosts) < size:
        site = f"site{rng.randrange(sites):03d}"
        role, services, exposure_weights, clustered = ROLES[rng.randrange(len(ROLES))]
        members = rng.randint(2, 8) if clustered else 1
        members = min(members, size - len(hosts))
        os_family, os_version = OS[rng.randrange(len(OS))]
        criticality = rng.choices(CRITICALITIES, weights=(3, 4, 2, 1))[0]
        exposure = rng.choices(EXPOSURES, weights=exposure_weights)[0]
        window = WINDOWS[rng.randrange(len(WINDOWS))]
        cluster = f"{site}-{role}-{cluster_number:06d}" if members > 1 else None
        budget = rng.choice((None, 1, "50%")) if cluster else None
        cluster_number += 1
        for _ in range(members):
            number = len(hosts)
            data: dict[str, Any] = {
                "name": f"{site}-{role}-{number:07d}",
                "groups": (site, role),
                "criticality": criticality,
                "exposure": exposure,
                "services": services,
                "os_family": os_family,
                "os_version": os_version,
                "canary": rng.random() < 0.03,
            }
            if cluster:
                data["cluster"] = cluster
                if budget is not None:
                    data["cluster_budget"] = budget
            if window is not None:
                data["maintenance_windows"] = (window,)
            roll = rng.random()
            if roll < 0.005:
                data["lifecycle"] = "decommissioned"
            elif roll < 0.015:
                data["exclude"] = True
                data["exclude_reason"] = "vendor appliance"
            elif roll < 0.025:
                data["unavailable"] = True
                data["unavailable_reason"] = "hardware repair"
            elif roll < 0.03:
                data["risk_class"] = "critical"
            hosts.append(data)
    rng.shuffle(hosts)  # inventory order is arbitrary; the Fleet sorts
    return hosts


def synthetic_fleet(size: int, *, seed: int = 0) -> Fleet:
    """A validated `Fleet` of `size` synthetic hosts, built as an inventory load builds one: each distinct set of
    declarations validated once, its values shared through one pool, then named per host (`Host.named`)."""
    templates: dict[str, Host] = {}
    group_lists: dict[tuple[str, ...], tuple[str, ...]] = {}
    pool: dict[Any, Any] = {}
    hosts = []
    for data in synthetic_host_data(size, seed=seed):
        declared = {key: value for key, value in data.items() if key not in ("name", "groups")}
        signature = repr(sorted(declared.items()))
        template = templates.get(signature)
        if template is None:
            template = templates[signature] = Host.model_validate({"name": "-", "groups": (), **declared}).sharing(pool)
        groups = tuple(data["groups"])
        hosts.append(template.named(data["name"], group_lists.setdefault(groups, groups)))
    return Fleet(hosts=tuple(hosts))
