"""Inventory drift: what changed under a run's frozen plan, for the hosts it has still to patch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from patchorch.domain.drift import Drift, inventory_drift
from patchorch.domain.fleet import Fleet, Host
from patchorch.domain.plan import Mode, RolloutPlan
from patchorch.domain.planner import fleet_digest, plan
from patchorch.sources.policy import load_policy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTS: dict[str, dict[str, Any]] = {
    "mx1": {"cluster": "mx"},
    "mx2": {"cluster": "mx"},
    "imap1": {},
}


def _fleet(**changes: dict[str, Any] | None) -> Fleet:
    """The three hosts, each with `changes` applied (None: the host is gone)."""
    declared = {name: {**fields, **(changes.get(name) or {})} for name, fields in HOSTS.items()}
    hosts = [
        Host.model_validate({"name": n, **f}) for n, f in declared.items() if not (n in changes and changes[n] is None)
    ]
    return Fleet(hosts=tuple(hosts))


def _plan() -> RolloutPlan:
    return plan(_fleet(), load_policy(None), mode=Mode.EMERGENCY, now=NOW)


def test_an_unchanged_fleet_has_no_drift_and_the_same_digest() -> None:
    """The fleet the plan was made from, read again, changes nothing."""
    rollout = _plan()
    assert fleet_digest(_fleet()) == rollout.fleet_digest
    assert inventory_drift(rollout, _fleet(), rollout.targets) == ()


def test_a_host_gone_decommissioned_or_moved_is_named_with_its_field() -> None:
    """Gone from the inventory, decommissioned, and moved to another cluster: one drift each, saying was and now."""
    fleet = _fleet(mx1=None, mx2={"cluster": "edge"}, imap1={"lifecycle": "decommissioned"})
    assert set(inventory_drift(_plan(), fleet, ["mx1", "mx2", "imap1"])) == {
        Drift("mx1", "host", "in the inventory", "not in the inventory"),
        Drift("mx2", "cluster", "mx", "edge"),
        Drift("imap1", "lifecycle", "a target", "lifecycle is decommissioned"),
    }


def test_a_host_marked_unavailable_or_excluded_is_drift() -> None:
    """Marked unavailable or excluded since planning: the inventory's own reason is the drift's `now`."""
    fleet = _fleet(
        mx1={"unavailable": True, "unavailable_reason": "disk swap"},
        imap1={"exclude": True, "exclude_reason": "migrating"},
    )
    assert set(inventory_drift(_plan(), fleet, ["mx1", "imap1"])) == {
        Drift("mx1", "unavailable", "a target", "disk swap"),
        Drift("imap1", "exclude", "a target", "migrating"),
    }


def test_only_the_hosts_still_to_patch_are_checked() -> None:
    """A change on a host the run already finished is no drift: it is not asked about."""
    fleet = _fleet(mx1=None)
    assert inventory_drift(_plan(), fleet, ["mx2", "imap1"]) == ()


def test_an_owner_change_moves_the_digest_but_is_no_drift() -> None:
    """A new owner changes the fleet's digest, yet leaves every planned target as the plan assumed."""
    rollout = _plan()
    fleet = _fleet(mx1={"owner": {"team": "mail-ops", "contact": "mail-ops@example.org"}})
    assert fleet_digest(fleet) != rollout.fleet_digest
    assert inventory_drift(rollout, fleet, rollout.targets) == ()
