"""Has the inventory changed under a run? What a frozen plan assumed of the hosts it has still to patch, checked
against the fleet read again.

A plan records the digest of the fleet it was made from (`RolloutPlan.fleet_digest`). When a resume reads a fleet
with another digest, `inventory_drift` names what matters for the hosts still to be dispatched: a host gone from the
inventory, one the inventory now keeps out of rollouts (decommissioned, excluded) or marks unavailable, and one whose
cluster changed (its disruption budget is the plan's). Anything else (an owner, a window, a host added) leaves the
frozen plan valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from patchorch.domain.eligibility import exclusion_detail, exclusion_reason
from patchorch.domain.fleet import Fleet
from patchorch.domain.plan import ExclusionReason, RolloutPlan

# The inventory field behind each reason a host is no longer a target.
_FIELDS = {
    ExclusionReason.DECOMMISSIONED: "lifecycle",
    ExclusionReason.EXCLUDED: "exclude",
    ExclusionReason.UNAVAILABLE: "unavailable",
}


@dataclass(frozen=True)
class Drift:
    """One change of the inventory that the plan of a run did not see: on `host`, `field` was `planned`, is `now`."""

    host: str
    field: str
    planned: str
    now: str

    def as_dict(self) -> dict[str, str]:
        """The change as data, for the record."""
        return {"host": self.host, "field": self.field, "planned": self.planned, "now": self.now}


def inventory_drift(plan: RolloutPlan, fleet: Fleet, hosts: Iterable[str]) -> tuple[Drift, ...]:
    """What changed in `fleet` since `plan` was made, for the planned targets `hosts` (those still to dispatch)."""
    current = {host.name: host for host in fleet.hosts}
    found: list[Drift] = []
    for name in hosts:
        host = current.get(name)
        if host is None:
            found.append(Drift(name, "host", "in the inventory", "not in the inventory"))
            continue
        reason = exclusion_reason(host)
        if reason is not None:
            found.append(Drift(name, _FIELDS[reason], "a target", exclusion_detail(host, reason)))
        planned = plan.planned_host(name).cluster
        if planned != host.cluster:
            found.append(Drift(name, "cluster", planned or "no cluster", host.cluster or "no cluster"))
    return tuple(found)
