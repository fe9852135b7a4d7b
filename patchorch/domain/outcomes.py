"""Typed outcomes: what happened to each host, batch and stage, with aggregate views.

A host failure is data, not an exception: `BatchOutcome.failed_hosts` lists them and the caller decides
(`raise_for_failure()` exists for scripts that want an exception).

`RoleResult` is the contract with the patch role: the role exports exactly this structure as the fact
`patchorch_result` (task "patchorch_patch : export result"), and the executor validates it instead of parsing text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from patchorch.errors import PatchorchError

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# The role's steps, in order; `RoleResult.failed_step` names one of them.
ROLE_STEPS = (
    "precheck",
    "download",  # the prepare phase only
    "snapshot",
    "pre-hook",
    "versions-before",
    "update",
    "reboot-detect",
    "reboot",
    "services",
    "post-check",
    "post-hook",
    "versions-after",
)


class CheckResult(BaseModel):
    """One health check's verdict on one host."""

    model_config = _FROZEN

    name: str
    passed: bool
    detail: str = ""


class HookResult(BaseModel):
    """What one hook (`snapshot`, `pre`: drain, `post`: undrain) did on one host: ok, failed or skipped (check mode).

    A commands hook also records the exit status of its last command run (the failing one, if any) and the end of
    that command's output, one line of at most 300 characters (`output`).
    """

    model_config = _FROZEN

    hook: str
    status: Literal["ok", "failed", "skipped"]
    detail: str = ""
    rc: int | None = None
    output: str = ""


class ServicesResult(BaseModel):
    """Services still running code the update replaced, as `tool` found them, and which of them were restarted.

    `tool` is None when nothing looked (the host rebooted, or has no such tool); `detail` then says why.
    """

    model_config = _FROZEN

    tool: str | None = None
    stale: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    detail: str = ""


class RoleResult(BaseModel):
    """What the patch role exports for one host at the end of a stage (also when it fails part-way)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    versions_before: dict[str, str] = Field(default_factory=dict)
    versions_after: dict[str, str] = Field(default_factory=dict)
    changed: bool = False
    reboot_required: bool = False
    rebooted: bool = False
    checks: tuple[CheckResult, ...] = ()
    failed_step: str | None = None
    message: str | None = None
    check_mode: bool = False
    # By hook name (`snapshot`, `pre`, `post`): only the hooks that started.
    hooks: dict[str, HookResult] = Field(default_factory=dict)
    # None when the role did not get as far as looking.
    services: ServicesResult | None = None
    phase: str = "apply"
    prepared: dict[str, str] = Field(default_factory=dict)  # prepare phase: the versions downloaded, ready to install


class HostStatus(StrEnum):
    """The end state of one host in one attempt."""

    PATCHED = "patched"  # the update applied (or there was nothing to apply) and every check passed
    UNCHANGED = "unchanged"  # already up to date: nothing changed, checks passed
    FAILED = "failed"  # a step failed on the host
    UNREACHABLE = "unreachable"  # Ansible could not reach the host
    SKIPPED = "skipped"  # not dispatched (halted run, cancelled stage)
    UNKNOWN = "unknown"  # dispatched but no evidence of the outcome (crash, lost events)

    @property
    def is_success(self) -> bool:
        """Patched or already up to date."""
        return self in (HostStatus.PATCHED, HostStatus.UNCHANGED)

    @property
    def counts_as_failure(self) -> bool:
        """Failed and unreachable hosts spend the failure budget."""
        return self in (HostStatus.FAILED, HostStatus.UNREACHABLE)


class HostOutcome(BaseModel):
    """What one attempt did to one host, with the evidence it rests on."""

    model_config = _FROZEN

    host: str
    status: HostStatus
    versions_before: dict[str, str] = Field(default_factory=dict)
    versions_after: dict[str, str] = Field(default_factory=dict)
    changed: bool = False
    reboot_required: bool = False
    rebooted: bool = False
    checks: tuple[CheckResult, ...] = ()
    failed_task: str | None = None
    failed_step: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    check_mode: bool = False
    hooks: dict[str, HookResult] = Field(default_factory=dict)
    services: ServicesResult | None = None
    prepared: dict[str, str] = Field(default_factory=dict)  # prepare phase: the versions downloaded


class BatchOutcome(BaseModel):
    """The outcomes of one dispatch of hosts, and the views a gate needs."""

    model_config = _FROZEN

    stage: str
    batch: int
    attempt: int = 1
    outcomes: tuple[HostOutcome, ...] = ()
    cancelled: bool = False

    def __iter__(self) -> Iterator[HostOutcome]:  # type: ignore[override]  # iterate outcomes, not fields
        return iter(self.outcomes)

    def by_host(self) -> dict[str, HostOutcome]:
        """Outcomes keyed by host name."""
        return {o.host: o for o in self.outcomes}

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Hosts that failed or were unreachable."""
        return tuple(o.host for o in self.outcomes if o.status.counts_as_failure)

    @property
    def unreachable_hosts(self) -> tuple[str, ...]:
        """Hosts Ansible could not reach."""
        return tuple(o.host for o in self.outcomes if o.status is HostStatus.UNREACHABLE)

    @property
    def succeeded_hosts(self) -> tuple[str, ...]:
        """Hosts patched or already up to date."""
        return tuple(o.host for o in self.outcomes if o.status.is_success)

    def raise_for_failure(self) -> None:
        """Raise HostFailures if any host failed; for scripts that prefer an exception to inspecting data."""
        if self.failed_hosts or self.cancelled:
            raise HostFailures(self.outcomes)


class HostFailures(PatchorchError):  # the name says what it carries, like httpx's HTTPStatusError
    """Raised by `raise_for_failure()` only: one or more hosts failed; `outcomes` holds every host's outcome."""

    def __init__(self, outcomes: Iterable[HostOutcome]) -> None:
        self.outcomes = tuple(outcomes)
        failed = [o.host for o in self.outcomes if o.status.counts_as_failure]
        super().__init__(f"{len(failed)} host(s) failed: {', '.join(failed) or '(cancelled)'}", hosts=tuple(failed))
