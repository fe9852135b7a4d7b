"""The life of a rollout run as recorded: run and stage states, attempts, approvals.

These are the records the store keeps and the orchestrator reads back on resume; they are values, never live objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import Mode

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# How long a run's lock holds without a heartbeat: after kill -9, `resume` waits at most this long for it. The
# heartbeat renews it four times per lease. Setting `run_lock_lease` changes it.
RUN_LOCK_LEASE = timedelta(seconds=60)
# How long a host claim holds without a heartbeat: long enough to ride out a slow store, short enough that a run on a
# machine that died frees its hosts within minutes. Renewed four times per lease; setting `claim_lease` changes it.
CLAIM_LEASE = timedelta(minutes=10)
# The leases the settings may choose: long enough for a heartbeat (a quarter lease) to reach a busy store, short
# enough that a dead process frees its runs and hosts within the hour.
LEASE_RANGE = (timedelta(seconds=10), timedelta(hours=1))


class RunState(StrEnum):
    """Where a run stands. Only `running` dispatches hosts; every other state waits for an operator or is final."""

    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting-approval"
    WAITING = "waiting"  # a soak or maintenance window ends later than the run may wait in-process: resume then
    PAUSED = "paused"  # an inconclusive gate: results are missing, so it neither proceeds nor fails
    HALTED = "halted"  # a gate failed (canary, failure budget): no host is dispatched until resume or abort
    INTERRUPTED = "interrupted"  # Ctrl-C or a crash: resume reconciles and continues
    COMPLETED = "completed"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        """Completed and aborted runs never dispatch again."""
        return self in (RunState.COMPLETED, RunState.ABORTED)


class StageState(StrEnum):
    """Where one stage stands."""

    PENDING = "pending"
    RUNNING = "running"
    SOAKING = "soaking"
    COMPLETED = "completed"
    HALTED = "halted"
    CANCELLED = "cancelled"


class RunKind(StrEnum):
    """What a run is for. A drill rehearses a rollout read-only (check mode, soaks shortened): it never patches."""

    ROLLOUT = "rollout"
    DRILL = "drill"


class RunInputs(BaseModel):
    """What a run was started from, kept so that an operator can see it and resume can re-render."""

    # Read back from stores that other patchorch versions wrote: keys this version does not know are ignored, so an
    # upgrade never makes a recorded run unreadable.
    model_config = ConfigDict(frozen=True, extra="ignore")

    inventory: tuple[str, ...] = ()
    policy: str | None = None
    limit: str | None = None
    advisory: str | None = None
    check: bool = False
    template_dir: str | None = None
    # Kept in the inputs' JSON, so that drills need no schema change and older records read as rollouts.
    kind: RunKind = RunKind.ROLLOUT
    skip_approvals: bool = False  # drills only: approvals are recorded as skipped instead of asked for

    @property
    def drill(self) -> bool:
        """The run is a drill: read-only, never counted as patching."""
        return self.kind is RunKind.DRILL


class RunRecord(BaseModel):
    """One rollout run as the store holds it."""

    model_config = _FROZEN

    id: str
    created_at: datetime
    created_by: str
    mode: Mode
    state: RunState
    state_reason: str = ""
    plan_hash: str
    inputs: RunInputs = RunInputs()
    updated_at: datetime
    rollback_of: str | None = None  # the run this run rolls back


class StageRecord(BaseModel):
    """One stage of a run as the store holds it."""

    model_config = _FROZEN

    run_id: str
    name: str
    index: int
    state: StageState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    soak_until: datetime | None = None


class AttemptRecord(BaseModel):
    """One dispatch of one host: the intent (status None) and, once there is evidence, the outcome."""

    model_config = _FROZEN

    run_id: str
    stage: str
    batch: int
    attempt: int
    host: str
    dispatched_at: datetime
    status: HostStatus | None = None
    outcome: HostOutcome | None = None
    evidence: str | None = None
    finished_at: datetime | None = None
    # Set when an operator's resume accepted this attempt's failure: it no longer spends the failure budget.
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def started(self) -> datetime:
        """When the host really started: its first task's event, but never before its dispatch (a host started ahead
        of its turn did its read-only steps first); the dispatch time when no event was seen."""
        if self.outcome is not None and self.outcome.started_at is not None:
            return max(self.outcome.started_at, self.dispatched_at)
        return self.dispatched_at

    @property
    def ended(self) -> datetime | None:
        """When the host really ended: its last task's event (the time the outcome was recorded when no event was
        seen), never before it started; None while the attempt is open."""
        if self.outcome is not None and self.outcome.finished_at is not None:
            return max(self.outcome.finished_at, self.started)
        return self.finished_at


class ApprovalRecord(BaseModel):
    """Who approved which stage of which run, and when."""

    model_config = _FROZEN

    run_id: str
    stage: str
    approver: str
    comment: str = ""
    at: datetime


class AuditRecord(BaseModel):
    """One append-only audit entry; `hash` chains it to the previous entry."""

    model_config = _FROZEN

    seq: int
    run_id: str | None
    at: datetime
    actor: str
    event: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class HostClaim(BaseModel):
    """A host claimed by a run: who drives it (operator and process) and until when the lease holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    run_id: str
    owner: str
    holder: str  # the driving process, `hostname:pid`
    claimed_at: datetime
    expires_at: datetime
