"""Which hosts of a fleet a rollout may patch: one rule, asked by the planner, facts refresh, reports and checks.

A host is left out, in the order an operator would look: decommissioned (its lifecycle), excluded in the inventory,
outside `--limit`, not among the targets (not affected by the advisory), marked unavailable. The first two are the
inventory's standing word on the host (`left_alone`); the others depend on the command or pass with time. Whether a
cluster's disruption budget leaves room is a question of the whole plan, answered by the planner.
"""

from __future__ import annotations

from collections.abc import Collection

from patchorch.domain.fleet import Host, Lifecycle
from patchorch.domain.plan import ExclusionReason


def left_alone(host: Host) -> ExclusionReason | None:
    """DECOMMISSIONED or EXCLUDED when the inventory keeps `host` out of every rollout; None when it may be patched."""
    if host.lifecycle is Lifecycle.DECOMMISSIONED:
        return ExclusionReason.DECOMMISSIONED
    if host.exclude:
        return ExclusionReason.EXCLUDED
    return None


def exclusion_reason(
    host: Host, *, in_limit: Collection[str] | None = None, targets: Collection[str] | None = None
) -> ExclusionReason | None:
    """Why `host` is no target (see the module docstring for the order), or None when it is eligible.

    `in_limit` names the hosts matching `--limit` and `targets` the affected hosts; None means no such restriction.
    """
    standing = left_alone(host)
    if standing is not None:
        return standing
    if in_limit is not None and host.name not in in_limit:
        return ExclusionReason.OUTSIDE_LIMIT
    if targets is not None and host.name not in targets:
        return ExclusionReason.NOT_AFFECTED
    if host.unavailable:
        return ExclusionReason.UNAVAILABLE
    return None


def exclusion_detail(
    host: Host, reason: ExclusionReason, *, limit: str | None = None, advisory: str | None = None
) -> str:
    """The reason in words for an operator: the inventory's own reason where it gives one."""
    if reason is ExclusionReason.DECOMMISSIONED:
        return "lifecycle is decommissioned"
    if reason is ExclusionReason.EXCLUDED:
        return host.exclude_reason or "excluded in the inventory (no reason)"
    if reason is ExclusionReason.OUTSIDE_LIMIT:
        return f"outside --limit {limit}" if limit else "outside --limit"
    if reason is ExclusionReason.NOT_AFFECTED:
        return f"not affected by {advisory}" if advisory else "not among the targets"
    if reason is ExclusionReason.UNAVAILABLE:
        return host.unavailable_reason or "marked unavailable"
    raise ValueError(f"{reason} is not a reason of the host alone")
