"""Rollback: what a recorded run changed on each host, and the plan that takes those hosts back. Pure.

A rollback is a run like any other (canary, waves, cluster budgets, gates, approvals from the same planner) whose
update is, per host, the exact versions that host had before the run it undoes: the `versions_before` of the host's
first attempt that recorded any. A host is taken back only when the run changed it: its versions at the end (the
`versions_after` of its last attempt that recorded any, so a host that failed half-way counts with what the failure
left) differ from those before. Every other host is left alone and the plan says why (`not-changed`, `not-patched`).

    >>> changes = run_changes(run, plan, attempts)                                          # doctest: +SKIP
    >>> rollback = plan_rollback(fleet, policy, changes, mode=Mode.EMERGENCY, now=now)      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from patchorch.domain.fleet import Fleet
from patchorch.domain.plan import (
    Exclusion,
    ExclusionReason,
    HostSettings,
    Mode,
    PackageSpec,
    RolloutPlan,
    UpdateScope,
    UpdateSpec,
)
from patchorch.domain.planner import plan
from patchorch.domain.policy import Policy
from patchorch.domain.run import AttemptRecord, RunRecord, RunState
from patchorch.errors import PlanError

_FROZEN = ConfigDict(frozen=True, extra="forbid")
# A reason lists at most this many packages, then "and N more".
_PACKAGES_SHOWN = 5


class HostChange(BaseModel):
    """The versions a run found on one host and the versions it left there (the packages it changed)."""

    model_config = _FROZEN

    host: str
    before: dict[str, str]
    after: dict[str, str]

    @property
    def downgrade(self) -> tuple[PackageSpec, ...]:
        """Each package the run changed, at the exact version it had before (packages it installed anew have no
        version to go back to and are left)."""
        return tuple(
            PackageSpec(name=name, version=version)
            for name, version in sorted(self.before.items())
            if name in self.after and self.after[name] != version
        )

    def describe(self) -> str:
        """`acme-mta 1.0-2 -> 1.0-1`: what going back does, for reasons and plans."""
        moves = [f"{p.name} {self.after[p.name]} -> {p.version}" for p in self.downgrade]
        return _listed(moves)


class RunChanges(BaseModel):
    """What run `run_id` did to its hosts: those it changed, and why each other host it knew of is left alone."""

    model_config = _FROZEN

    run_id: str
    changed: dict[str, HostChange] = Field(default_factory=dict)
    # host -> why a rollback leaves it alone
    not_changed: dict[str, str] = Field(default_factory=dict)
    not_patched: dict[str, str] = Field(default_factory=dict)

    @property
    def hosts(self) -> frozenset[str]:
        """Every host the run knew of: its targets and the hosts its plan left out."""
        return frozenset(self.changed) | frozenset(self.not_changed) | frozenset(self.not_patched)


def run_changes(run: RunRecord, run_plan: RolloutPlan, attempts: Sequence[AttemptRecord]) -> RunChanges:
    """What `run` (with its frozen plan and its attempts in dispatch order) changed on each host.

    Raises `PlanError` for a run still running (it may change more; stop or finish it first).
    """
    if run.state is RunState.RUNNING:
        raise PlanError(
            f"run {run.id} is running: let it finish, or abort it, before rolling it back",
            run=run.id,
        )
    name = run.id
    by_host: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_host.setdefault(attempt.host, []).append(attempt)
    changed: dict[str, HostChange] = {}
    not_changed: dict[str, str] = {}
    not_patched: dict[str, str] = {
        exclusion.host: f"run {name} left it out ({exclusion.reason.value}: {exclusion.detail})"
        for exclusion in run_plan.exclusions
    }
    for host in sorted(set(run_plan.targets) | set(by_host)):
        tries = by_host.get(host, [])
        if run.inputs.check:
            not_changed[host] = f"run {name} ran in check mode: it installed nothing"
            continue
        if not tries:
            not_patched[host] = f"run {name} never dispatched it"
            continue
        before = next((a.outcome.versions_before for a in tries if a.outcome and a.outcome.versions_before), None)
        after = next(
            (a.outcome.versions_after for a in reversed(tries) if a.outcome and a.outcome.versions_after), None
        )
        if before is None or after is None:
            last = tries[-1]
            status = last.status.value if last.status is not None else "no outcome"
            step = f" at {last.outcome.failed_step}" if last.outcome and last.outcome.failed_step else ""
            not_patched[host] = f"run {name} recorded no versions of it ({status}{step})"
            continue
        change = HostChange(host=host, before=dict(before), after=dict(after))
        if change.downgrade:
            changed[host] = change
        else:
            kept = _listed([f"{package} {version}" for package, version in sorted(after.items())])
            not_changed[host] = f"run {name} did not change its packages ({kept or 'none recorded'})"
    return RunChanges(run_id=name, changed=changed, not_changed=not_changed, not_patched=not_patched)


def plan_rollback(
    fleet: Fleet,
    policy: Policy,
    changes: RunChanges,
    *,
    mode: Mode,
    now: datetime,
    in_limit: Iterable[str] | None = None,
    limit: str | None = None,
) -> RolloutPlan:
    """The plan that takes the hosts `changes` records as changed (those within `in_limit`) back to their versions
    before, through the planner like any rollout; hosts left alone are excluded with the reason.

    Raises `PlanError` when there is nothing to undo: the run changed no host, `limit` matches none of its hosts,
    or none of the hosts it matches was changed.
    """
    name = changes.run_id
    if not changes.changed:
        reasons = {**changes.not_patched, **changes.not_changed}
        example = next(iter(sorted(reasons.items())), None)
        detail = f" ({example[0]}: {example[1]})" if example else ""
        raise PlanError(f"run {name} changed no host's packages: nothing to undo{detail}", run=name)
    wanted = set(changes.changed)
    if in_limit is not None:
        matching = set(in_limit)
        if not matching & changes.hosts:
            raise PlanError(
                f"--hosts {limit or ''} matches none of the hosts of run {name} "
                f"(it changed: {_listed(sorted(changes.changed))})",
                run=name,
                field="--hosts",
            )
        if not matching & wanted:
            raise PlanError(
                f"--hosts {limit or ''} matches only hosts run {name} did not change: nothing to undo "
                f"(it changed: {_listed(sorted(changes.changed))})",
                run=name,
                field="--hosts",
            )
    rollback = plan(
        fleet,
        policy,
        mode=mode,
        now=now,
        in_limit=in_limit,
        targets=wanted & {host.name for host in fleet},
        update=UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of=name),
        limit=limit,
    )
    missing = sorted(host for host in wanted - {host.name for host in fleet} if in_limit is None)
    warnings = rollback.warnings
    if missing:
        warnings += (
            f"{len(missing)} host(s) run {name} changed are not in the inventory and are not rolled back: "
            + _listed(missing),
        )
    return rollback.model_copy(
        update={
            "hosts": tuple(
                host.model_copy(update={"reason": f"{host.reason}; back: {changes.changed[host.name].describe()}"})
                for host in rollback.hosts
            ),
            "exclusions": tuple(_why_left(exclusion, changes) for exclusion in rollback.exclusions),
            "host_settings": _with_versions(rollback, changes.changed),
            "warnings": warnings,
        }
    )


def _why_left(exclusion: Exclusion, changes: RunChanges) -> Exclusion:
    """The planner's "not among the targets" made precise: not changed, or not patched, by the run undone."""
    if exclusion.reason is not ExclusionReason.NOT_AFFECTED:
        return exclusion
    host = exclusion.host
    if host in changes.not_changed:
        return Exclusion(host=host, reason=ExclusionReason.NOT_CHANGED, detail=changes.not_changed[host])
    detail = changes.not_patched.get(host, f"not a host of run {changes.run_id}")
    return Exclusion(host=host, reason=ExclusionReason.NOT_PATCHED, detail=detail)


def _with_versions(rollback: RolloutPlan, changed: Mapping[str, HostChange]) -> tuple[HostSettings, ...]:
    """Every target's settings (hooks as planned) with the exact versions it goes back to, sorted by host."""
    return tuple(
        rollback.settings_of(host).model_copy(update={"downgrade": changed[host].downgrade})
        for host in sorted(rollback.targets)
    )


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_PACKAGES_SHOWN])
    return shown + (f" and {len(items) - _PACKAGES_SHOWN} more" if len(items) > _PACKAGES_SHOWN else "")
