"""What a drill found, computed from its records by pure functions.

A drill is a run of kind `drill`: the whole rollout path in check mode on the real hosts (prepare prechecks, the
check-mode update, health checks, approvals or their skipping, soaks shortened on a `DrillClock`). `summarize_drill`
turns its records into a `DrillReport`:

- every blocker per host with its owner: hosts that failed to prepare (disk, lock, repositories, unreachable) and
  hosts whose check-mode stage failed;
- what the update would change on each host (versions before and the versions it would install);
- when each stage was reached on the drill's clock (real time plus the waits it skipped);
- the projected duration of the real rollout: the prepare phase as the drill measured it plus the dispatcher's
  projection (`domain.dispatch.simulate`) of the stages, with each host's duration measured in earlier real runs,
  else in this drill, else the median of the hosts this drill timed (a blocker), else the plan's expected duration.

Durations here run from a host's dispatch to its recorded outcome, so they include each playbook's start-up: the
makespan a projection must match is made of exactly those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from patchorch.domain.dispatch import plan_stages, simulate
from patchorch.domain.outcomes import HostStatus
from patchorch.domain.plan import RolloutPlan
from patchorch.domain.run import AttemptRecord, AuditRecord, RunRecord, StageRecord

_FROZEN = ConfigDict(frozen=True, extra="forbid")

PREPARE = "prepare"


class DrillBlocker(BaseModel):
    """Something that would stop or fail the rollout on one host, and who to call."""

    model_config = _FROZEN

    host: str
    owner: str | None
    phase: str  # "prepare" or the stage's name
    status: str
    step: str | None = None
    message: str = ""


class DrillChange(BaseModel):
    """What the update would do on one host, as its check-mode run reported it."""

    model_config = _FROZEN

    host: str
    stage: str
    status: str
    versions_before: dict[str, str]
    versions_after: dict[str, str]


class DrillStage(BaseModel):
    """When a stage was reached on the drill's clock, and when the real rollout would reach it (seconds from start)."""

    model_config = _FROZEN

    name: str
    reached_at: datetime | None
    reached_after_seconds: float | None
    projected_after_seconds: float | None


class ShortenedWait(BaseModel):
    """A soak or window the drill did not wait out."""

    model_config = _FROZEN

    seconds: float
    until: str
    reason: str


class DrillReport(BaseModel):
    """A drill's findings, its timing, and the projected duration of the real rollout."""

    model_config = _FROZEN

    run: str
    mode: str
    state: str
    reason: str
    started_at: datetime
    targets: int
    prepare_seconds: float | None
    stages: tuple[DrillStage, ...]
    changes: tuple[DrillChange, ...]
    blockers: tuple[DrillBlocker, ...]
    waits_shortened: tuple[ShortenedWait, ...]
    approvals_skipped: tuple[str, ...]
    projected_seconds: float
    duration_basis: dict[str, str]  # host -> "measured" (earlier real runs), "drill", "drill-median" or "plan"


def apply_durations(attempts: Iterable[AttemptRecord]) -> dict[str, timedelta]:
    """Each host's (upper) median time from dispatch to recorded outcome over its attempts that reached it."""
    spans: dict[str, list[timedelta]] = {}
    for attempt in attempts:
        if attempt.finished_at is None or attempt.status is None or attempt.status is HostStatus.UNREACHABLE:
            continue
        spans.setdefault(attempt.host, []).append(attempt.finished_at - attempt.dispatched_at)
    return {host: sorted(s)[len(s) // 2] for host, s in spans.items()}


def _prepare_seconds(audit: Sequence[AuditRecord]) -> float | None:
    started = next((r.at for r in audit if r.event == "prepare-started"), None)
    ended = next((r.at for r in reversed(audit) if r.event == "prepared"), None)
    if started is None or ended is None:
        return None
    return (ended - started).total_seconds()


def _blockers(plan: RolloutPlan, attempts: Sequence[AttemptRecord], audit: Sequence[AuditRecord]) -> list[DrillBlocker]:
    owners = {h.name: h.owner for h in plan.hosts}
    found: dict[str, DrillBlocker] = {}
    for record in audit:
        if record.event != "prepared":
            continue
        for host, info in record.data.get("failed", {}).items():
            found[str(host)] = DrillBlocker(
                host=str(host),
                owner=owners.get(str(host)),
                phase=PREPARE,
                status=str(info.get("status", "failed")),
                step=info.get("step"),
                message=str(info.get("message") or ""),
            )
    latest: dict[str, AttemptRecord] = {}
    for attempt in attempts:
        latest[attempt.host] = attempt
    for host, attempt in latest.items():
        if host in found or attempt.status is None or not attempt.status.counts_as_failure:
            continue
        outcome = attempt.outcome
        found[host] = DrillBlocker(
            host=host,
            owner=owners.get(host),
            phase=attempt.stage,
            status=attempt.status.value,
            step=outcome.failed_step if outcome else None,
            message=(outcome.message or "") if outcome else "",
        )
    return [found[h] for h in sorted(found)]


def summarize_drill(
    run: RunRecord,
    plan: RolloutPlan,
    stages: Sequence[StageRecord],
    attempts: Sequence[AttemptRecord],
    audit: Sequence[AuditRecord],
    *,
    measured: Mapping[str, timedelta] | None = None,
) -> DrillReport:
    """The drill's report from its records; `measured` holds per-host durations from earlier real runs."""
    from_drill = apply_durations(attempts)
    # A host the drill could not time (a blocker) takes the median of those it did, not the plan's guess.
    typical = sorted(from_drill.values())[len(from_drill) // 2] if from_drill else None
    durations: dict[str, timedelta] = {}
    basis: dict[str, str] = {}
    for host in plan.targets:
        if measured and host in measured:
            durations[host], basis[host] = measured[host], "measured"
        elif host in from_drill:
            durations[host], basis[host] = from_drill[host], "drill"
        elif typical is not None:
            durations[host], basis[host] = typical, "drill-median"
        else:
            basis[host] = "plan"
    blockers = _blockers(plan, attempts, audit)
    # The real rollout is projected as it would run once the blockers are fixed: every target, none failing.
    timeline = simulate(plan_stages(plan, expected=durations), run.created_at)
    prepare = _prepare_seconds(audit)
    offset = prepare or 0.0
    projected_start: dict[str, float] = {}
    for projected in timeline.hosts:
        at = (projected.start - run.created_at).total_seconds() + offset
        projected_start[projected.stage] = min(projected_start.get(projected.stage, at), at)
    records = {s.name: s for s in stages}
    drill_stages = []
    for stage in plan.stages:
        record = records.get(stage.name)
        reached = record.started_at if record is not None else None
        drill_stages.append(
            DrillStage(
                name=stage.name,
                reached_at=reached,
                reached_after_seconds=(reached - run.created_at).total_seconds() if reached else None,
                projected_after_seconds=projected_start.get(stage.name),
            )
        )
    changes = [
        DrillChange(
            host=a.host,
            stage=a.stage,
            status=a.status.value,
            versions_before=dict(a.outcome.versions_before),
            versions_after=dict(a.outcome.versions_after),
        )
        for a in attempts
        if a.status is not None and a.outcome is not None and not a.status.counts_as_failure
    ]
    waits = [
        ShortenedWait(
            seconds=float(r.data.get("seconds", 0.0)), until=str(r.data.get("until")), reason=str(r.data.get("reason"))
        )
        for r in audit
        if r.event == "wait-shortened"
    ]
    return DrillReport(
        run=run.id,
        mode=run.mode.value,
        state=run.state.value,
        reason=run.state_reason,
        started_at=run.created_at,
        targets=len(plan.targets),
        prepare_seconds=prepare,
        stages=tuple(drill_stages),
        changes=tuple(changes),
        blockers=tuple(blockers),
        waits_shortened=tuple(waits),
        approvals_skipped=tuple(str(r.data.get("stage")) for r in audit if r.event == "approval-skipped"),
        projected_seconds=offset + timeline.makespan.total_seconds(),
        duration_basis=basis,
    )
