"""The rollout plan: a frozen, serialisable value computed before anything runs.

A plan can be printed, diffed, stored and only then executed. Its JSON is canonical (sorted keys, no insignificant
white space) and `content_hash` is the SHA-256 of that JSON without the hash itself, so the same inputs give the same
bytes and the same hash whatever the inventory order or PYTHONHASHSEED.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from patchorch.domain.canonical import canonical_json, sha256_hex
from patchorch.domain.fleet import Hook, StaleServices
from patchorch.domain.windows import WeeklyWindow

_FROZEN = ConfigDict(frozen=True, extra="forbid")

PLAN_SCHEMA_VERSION = 1


class Mode(StrEnum):
    """Regular rollouts respect maintenance windows; emergency rollouts compress the path and ignore windows."""

    REGULAR = "regular"
    EMERGENCY = "emergency"


class StageKind(StrEnum):
    """A canary stage proves the update on representative hosts; waves then patch the rest in risk order."""

    CANARY = "canary"
    WAVE = "wave"


class UpdateScope(StrEnum):
    """What the patch role installs: every available update, security updates only, or named packages; a rollback
    installs each host's own exact earlier versions (`HostSettings.downgrade`), downgrading."""

    ALL = "all"
    SECURITY = "security"
    PACKAGES = "packages"
    ROLLBACK = "rollback"


class PackageSpec(BaseModel):
    """One package to update: to the newest available, to an exact `version`, or to at least `at_least`."""

    model_config = _FROZEN

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9+.:_-]*$", max_length=200)
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.+:~_-]+$", max_length=200)
    at_least: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.+:~_-]+$", max_length=200)


class UpdateSpec(BaseModel):
    """What a rollout installs; the same for every host of the plan, except a rollback's versions (per host).

    `rollback_of` names the run a rollback undoes (scope `rollback` only).
    """

    model_config = _FROZEN

    scope: UpdateScope = UpdateScope.SECURITY
    packages: tuple[PackageSpec, ...] = ()
    advisory: str | None = None
    rollback_of: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _rollback_names_its_run(self) -> UpdateSpec:
        if (self.scope is UpdateScope.ROLLBACK) != (self.rollback_of is not None):
            raise ValueError("a rollback names the run it undoes (rollback_of), and only a rollback does")
        return self

    @field_validator("packages")
    @classmethod
    def _sorted(cls, value: tuple[PackageSpec, ...]) -> tuple[PackageSpec, ...]:
        return tuple(sorted(value, key=lambda p: p.name))


class Batch(BaseModel):
    """Hosts dispatched together; no batch takes more of a cluster than the cluster's disruption budget allows."""

    model_config = _FROZEN

    index: int = Field(ge=1)
    hosts: tuple[str, ...] = Field(min_length=1)


class Stage(BaseModel):
    """One step of the rollout: the canary or one wave, run batch by batch, gated before and after."""

    model_config = _FROZEN

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: StageKind
    index: int = Field(ge=1)
    risk_class: str | None = None
    batches: tuple[Batch, ...] = Field(min_length=1)
    concurrency: int = Field(ge=1)
    soak: timedelta = timedelta(0)
    approval_required: bool = False
    earliest_start: datetime | None = None
    reason: str = ""
    # Failed hosts this stage tolerates (the risk class's budget over the stage's hosts); None: only the plan's.
    failure_budget: int | None = Field(default=None, ge=0)

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host of the stage, batch by batch."""
        return tuple(host for batch in self.batches for host in batch.hosts)


class PlannedHost(BaseModel):
    """Where one target host lands and why, so an operator can check the planner's reasoning."""

    model_config = _FROZEN

    name: str
    stage: str
    batch: int = Field(ge=1)
    risk_class: str
    risk_class_overridden: bool = False
    reason: str
    due: datetime | None = None
    window_opens: datetime | None = None
    outside_horizon: bool = False
    # What the dispatcher needs at run time: the host's cluster and, in a regular rollout, its windows.
    cluster: str | None = None
    windows: tuple[WeeklyWindow, ...] = ()
    owner: str | None = None  # "team <contact>", so that a host that waits or fails names who to call


class HostSettings(BaseModel):
    """How the patch role treats one target host beyond the update: its hooks, its stale services and, in a
    rollback, the exact versions it goes back to.

    Resolved at planning from the host's inventory variables, else the policy's defaults, so a stored plan says
    exactly what runs around each update. Only hosts with a hook or a non-default setting are listed.
    """

    model_config = _FROZEN

    host: str
    snapshot_hook: Hook | None = None
    pre_hook: Hook | None = None
    post_hook: Hook | None = None
    stale_services: StaleServices = StaleServices.REPORT
    # A rollback: each package this host goes back to, at its exact version (downgrades allowed).
    downgrade: tuple[PackageSpec, ...] = ()


class ExclusionReason(StrEnum):
    """Why a host of the fleet is not in the plan."""

    DECOMMISSIONED = "decommissioned"
    EXCLUDED = "excluded"
    OUTSIDE_LIMIT = "outside-limit"
    UNAVAILABLE = "unavailable"
    NOT_AFFECTED = "not-affected"
    # Its cluster's unavailable members already use the whole disruption budget: patching it would exceed it.
    CLUSTER_BUDGET = "cluster-budget"
    # A rollback leaves alone the hosts the run it undoes did not change, and those it never patched.
    NOT_CHANGED = "not-changed"
    NOT_PATCHED = "not-patched"


class Exclusion(BaseModel):
    """A host left out of the plan, with the reason in words."""

    model_config = _FROZEN

    host: str
    reason: ExclusionReason
    detail: str


class RolloutPlan(BaseModel):
    """Everything needed to run a rollout: stages, batches, gates, targets, exclusions, and why.

    `failure_budget` is the number of failed hosts (unreachable counts as failed) the whole rollout tolerates;
    one more halts it. `warnings` tell the operator what the plan had to bend (windows ignored, hosts flagged).
    """

    model_config = _FROZEN

    schema_version: int = PLAN_SCHEMA_VERSION
    mode: Mode
    planned_at: datetime
    horizon: timedelta = timedelta(days=7)
    update: UpdateSpec = UpdateSpec()
    limit: str | None = None
    policy_digest: str = ""
    fleet_digest: str = ""
    failure_budget: int = Field(ge=0)
    # Unreachable hosts (only those) are dispatched again this many times, waiting retry_backoff_seconds, then
    # twice that, and so on; from the policy's `retries`.
    unreachable_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_seconds: int = Field(default=10, ge=0, le=3600)
    # How long one host's disruptive apply is expected to take (the policy's value; measured durations refine it at
    # run time), and how many members of each target cluster may be unavailable at once (marked-down ones deducted).
    expected_duration: timedelta = timedelta(minutes=10)
    cluster_room: dict[str, int] = Field(default_factory=dict)
    stages: tuple[Stage, ...] = ()
    hosts: tuple[PlannedHost, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    warnings: tuple[str, ...] = ()
    host_settings: tuple[HostSettings, ...] = ()

    def canonical_json(self) -> str:
        """The plan as canonical JSON: sorted keys, compact separators, the content hash included."""
        body = self._body()
        body["content_hash"] = _digest(body)
        return canonical_json(body)

    def pretty_json(self) -> str:
        """The plan as indented JSON with sorted keys, for people and golden files; same content as canonical."""
        body = self._body()
        body["content_hash"] = _digest(body)
        return json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @property
    def content_hash(self) -> str:
        """SHA-256 hex digest of the canonical JSON without the hash."""
        return _digest(self._body())

    def _body(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        # Added after schema 1 was in use: left out while empty, so earlier plans keep their bytes and hashes.
        if not data["host_settings"]:
            del data["host_settings"]
        if data["update"]["rollback_of"] is None:
            del data["update"]["rollback_of"]
        for settings in data.get("host_settings", ()):
            if settings["snapshot_hook"] is None:
                del settings["snapshot_hook"]
            if not settings["downgrade"]:
                del settings["downgrade"]
        return data

    @classmethod
    def from_json(cls, text: str | bytes) -> RolloutPlan:
        """Read a plan written by `canonical_json` or `pretty_json`; a content hash that does not match is refused.

        The hash is checked over the document as written, so a plan stored by an older patchorch (without fields
        added since, which take their defaults) still verifies.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a plan is a JSON object")
        stated = data.pop("content_hash", None)
        if stated is not None and stated != _digest(data):
            raise ValueError(f"content_hash {stated} does not match the plan's content ({_digest(data)})")
        return cls.model_validate(data)

    @staticmethod
    def digest_of_json(text: str | bytes) -> str:
        """The content hash of a plan document as written (its `content_hash` field left out)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a plan is a JSON object")
        data.pop("content_hash", None)
        return _digest(data)

    def stage(self, name: str) -> Stage:
        """The stage called `name`; KeyError if there is none."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def planned_host(self, name: str) -> PlannedHost:
        """Where host `name` lands; KeyError if it is not a target."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def settings_of(self, host: str) -> HostSettings:
        """The hooks and stale-service handling of `host` (the defaults when the plan lists none for it)."""
        for item in self.host_settings:
            if item.host == host:
                return item
        return HostSettings(host=host)

    @property
    def targets(self) -> tuple[str, ...]:
        """Every host the plan patches, in stage and batch order."""
        return tuple(host for stage in self.stages for host in stage.hosts)


def _digest(body: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(body))
