"""Planning as a library call: read the inventory and the policy, plan, return the frozen `RolloutPlan`.

This is the edge around the pure planner (`patchorch.domain.planner.plan`): it reads files and, when no `now` is
given, the clock. Nothing runs; the plan can be printed, stored and executed later.

    >>> from pathlib import Path
    >>> from patchorch.orchestrator.planning import plan_rollout
    >>> rollout = plan_rollout([Path("inventories/example-mail")], emergency=True)      # doctest: +SKIP
    >>> print(rollout.pretty_json())                                                     # doctest: +SKIP
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchorch.domain.fleet import Fleet
from patchorch.domain.plan import Mode, RolloutPlan, UpdateSpec
from patchorch.domain.planner import plan
from patchorch.domain.policy import Policy
from patchorch.domain.rollback import RunChanges, plan_rollback
from patchorch.domain.vulnerability import HostVulnerability
from patchorch.sources.policy import load_policy

if TYPE_CHECKING:
    from patchorch.sources.inventory import InventoryLoad, VaultSecret


def plan_rollout(
    inventory: Sequence[Path | str] | InventoryLoad,
    policy: Path | str | Policy | None = None,
    *,
    emergency: bool = False,
    limit: str | None = None,
    targets: Iterable[str] | None = None,
    update: UpdateSpec | None = None,
    vulnerabilities: Iterable[HostVulnerability] | None = None,
    now: datetime | None = None,
    vault_ids: Sequence[VaultSecret] = (),
) -> RolloutPlan:
    """Plan a rollout over the hosts of `inventory` (Ansible sources, or a fleet loaded from them) under `policy`.

    `policy` is a policy file, an already-built `Policy`, or None for the built-in default policy.
    `limit` is an Ansible host pattern (`--limit`); hosts outside it are excluded and say so (a loaded fleet carries the
    limit it was loaded with, and `limit` must be that one or None). `targets` restricts
    the plan to the named hosts (an advisory's affected hosts); `vulnerabilities` feed the policy's risk rules.
    `now` defaults to the current time in UTC. `vault_ids` read vault-encrypted inventory files (from memory).

    Raises `InventoryError` or `PolicyError` for inputs that do not validate, `PlanError` for inputs that cannot
    make a plan (a risk-class override the policy does not define).
    """
    # Imported here so that planning stays importable while the inventory reader is replaced or absent.
    from patchorch.sources.inventory import InventoryLoad, load_fleet

    resolved = policy if isinstance(policy, Policy) else load_policy(Path(policy) if policy is not None else None)
    if isinstance(inventory, InventoryLoad):
        if limit is not None and limit != inventory.limit:
            raise ValueError(f"the fleet was loaded with limit {inventory.limit!r}, not {limit!r}")
        loaded, limit = inventory, inventory.limit
    else:
        loaded = load_fleet([Path(source) for source in inventory], limit=limit, vault_ids=vault_ids)
    return plan_fleet(
        loaded.fleet,
        resolved,
        mode=Mode.EMERGENCY if emergency else Mode.REGULAR,
        now=now if now is not None else datetime.now(UTC),
        in_limit=loaded.in_limit,
        targets=targets,
        update=update if update is not None else UpdateSpec(),
        vulnerabilities=vulnerabilities,
        limit=limit,
    )


def plan_rollback_of(
    changes: RunChanges,
    inventory: Sequence[Path | str],
    policy: Path | str | Policy | None = None,
    *,
    emergency: bool = False,
    hosts: str | None = None,
    now: datetime | None = None,
    vault_ids: Sequence[VaultSecret] = (),
) -> RolloutPlan:
    """Plan the rollback of the run `changes` describes over the hosts of `inventory` under `policy`.

    `hosts` is an Ansible host pattern narrowing the rollback (as `--limit`). Raises what `plan_rollout` raises, and
    `PlanError` when there is nothing to undo (see `domain.rollback.plan_rollback`).
    """
    from patchorch.sources.inventory import load_fleet

    resolved = policy if isinstance(policy, Policy) else load_policy(Path(policy) if policy is not None else None)
    loaded = load_fleet([Path(source) for source in inventory], limit=hosts, vault_ids=vault_ids)
    return plan_rollback(
        loaded.fleet,
        resolved,
        changes,
        mode=Mode.EMERGENCY if emergency else Mode.REGULAR,
        now=now if now is not None else datetime.now(UTC),
        in_limit=loaded.in_limit,
        limit=hosts,
    )


def plan_fleet(fleet: Fleet, policy: Policy, **options: Any) -> RolloutPlan:
    """`domain.planner.plan` with Python's cyclic garbage collector paused for the call.

    Planning allocates many small objects that all live on in the plan and makes no reference cycles, while every
    collection the allocations trigger would walk the whole fleet again: on 100k hosts that is most of the time.
    The collector's previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return plan(fleet, policy, **options)
    finally:
        if enabled:
            gc.enable()
