"""The rollout policy: risk classes, the ordered rules that assign them, the canary and the emergency path.

A policy is data a person writes (`patchorch/policy/default.yml` is the built-in one; `patchorch.sources.policy`
reads files with line numbers). Everything here is validated strictly: unknown keys, percentages outside (0, 100],
a class in `wave_order` that is not defined (or defined and not ordered) are refused with a `PolicyError` that names
the field. Thresholds live here, never as numbers in the planner.

    >>> policy = Policy.model_validate({
    ...     "classes": {"high": {"sla": "24h", "concurrency": 2}, "low": {"sla": "7d", "concurrency": 10}},
    ...     "wave_order": ["high", "low"],
    ...     "rules": [{"class": "high", "exposure": "internet"}],
    ...     "default_class": "low",
    ... })
    >>> policy.classes["high"].sla
    datetime.timedelta(days=1)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from patchorch.domain.canonical import canonical_json, sha256_hex
from patchorch.domain.fleet import Criticality, Exposure, Hook, StaleServices
from patchorch.domain.quantity import Budget
from patchorch.domain.spans import parse_span
from patchorch.domain.vulnerability import Decision
from patchorch.errors import PolicyError, Problem

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Class names become part of stage names (`wave-2-high`), so they follow the stage-name pattern.
CLASS_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
ClassName = Annotated[str, Field(pattern=CLASS_NAME_PATTERN, max_length=40)]

# A location inside policy data: keys and list indices from the top, as pydantic reports them.
Location = tuple[str | int, ...]


class RiskClassPolicy(BaseModel):
    """What a risk class means for the rollout: how fast, how wide, how long to watch, how much may fail."""

    model_config = _FROZEN

    sla: timedelta = Field(description="time-to-patch target, e.g. '24h' or '7d'")
    concurrency: int = Field(ge=1, description="hosts patched at once (Ansible forks / serial)")
    soak: timedelta = Field(default=timedelta(0), description="wait after the wave before the next stage")
    failure_budget: Budget = Field(default=Budget(count=0), description="failed hosts the wave tolerates")
    approval: bool = Field(default=False, description="a person approves before the wave starts")
    description: str = ""

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> timedelta:
        return parse_span(value)

    @field_validator("soak", mode="before")
    @classmethod
    def _soak(cls, value: Any) -> timedelta:
        return parse_span(value, allow_zero=True)


class CanaryPolicy(BaseModel):
    """The canary stage: how many representative hosts prove the update first, and how long they soak."""

    model_config = _FROZEN

    size: Budget = Field(default=Budget(count=1), description="a count, or a percentage rounded up; at least 1")
    max_per_pair: int | None = Field(
        default=5,
        ge=1,
        description="at most this many hosts per (OS, service) pair, whatever the size says (None: no cap), so a "
        "percentage of a large fleet stays a canary",
    )
    concurrency: int = Field(default=1, ge=1)
    soak: timedelta = timedelta(hours=1)
    failure_budget: Budget = Budget(count=0)
    approval: bool = False

    @field_validator("soak", mode="before")
    @classmethod
    def _soak(cls, value: Any) -> timedelta:
        return parse_span(value, allow_zero=True)

    @field_validator("size")
    @classmethod
    def _size(cls, value: Budget) -> Budget:
        if value.count is not None and value.count < 1:
            raise ValueError("a canary takes at least 1 host")
        if value.percent is not None and value.percent >= 100:
            raise ValueError(f"a canary of {value} takes every target and proves nothing first (allowed: < 100%)")
        return value


class EmergencyPolicy(BaseModel):
    """The emergency path: a small canary with a short soak; windows are ignored, approvals stay as the classes say."""

    model_config = _FROZEN

    canary: CanaryPolicy = CanaryPolicy(size=Budget(count=1), soak=timedelta(minutes=15))
    soak: timedelta | None = Field(default=None, description="replaces every class's soak in an emergency")
    failure_budget: Budget | None = Field(default=None, description="replaces the rollout-wide failure budget")

    @field_validator("soak", mode="before")
    @classmethod
    def _soak(cls, value: Any) -> Any:
        return None if value is None else parse_span(value, allow_zero=True)


class RiskRule(BaseModel):
    """One rule: a host matching every condition given gets `class`. Lists mean any of; no conditions match all."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    risk_class: ClassName = Field(alias="class")
    name: str | None = None
    criticality: tuple[Criticality, ...] | None = Field(default=None, min_length=1)
    exposure: tuple[Exposure, ...] | None = Field(default=None, min_length=1)
    services: tuple[str, ...] | None = Field(default=None, min_length=1)
    min_cvss: float | None = Field(default=None, ge=0, le=10, description="the host's max CVSS base score >= this")
    known_exploited: bool | None = None
    decision: tuple[Decision, ...] | None = Field(default=None, min_length=1)

    @field_validator("criticality", "exposure", "services", "decision", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        # A condition written as one value means a list of one.
        return (value,) if isinstance(value, str) else value

    @property
    def matches_everything(self) -> bool:
        """True for a rule without conditions (a catch-all)."""
        return all(
            getattr(self, name) is None
            for name in ("criticality", "exposure", "services", "min_cvss", "known_exploited", "decision")
        )


class RetryPolicy(BaseModel):
    """How often an unreachable host is dispatched again before it counts as failed, and the first back-off."""

    model_config = _FROZEN

    unreachable: int = Field(default=2, ge=0, le=10, description="retries of unreachable hosts (only those hosts)")
    backoff_seconds: int = Field(default=10, ge=0, le=3600, description="first wait; it doubles each retry")


class QuorumPolicy(BaseModel):
    """A safe default for hosts the inventory puts in no cluster although they are likely quorum members.

    Hosts of a group whose name matches one of `groups` (shell patterns, case-insensitive: `etcd*`) and that declare
    no `patchorch_cluster` are planned as one cluster with `budget` members down at once. Overlapping groups (etcd
    members that are also control-plane nodes) make one cluster. `groups: []` turns the default off.
    """

    model_config = _FROZEN

    groups: tuple[Annotated[str, Field(min_length=1)], ...] = (
        "etcd*",
        "*control_plane*",
        "*control-plane*",
        "kube_master*",
        "kube-master*",
        "zookeeper*",
        "consul_server*",
        "vault*",
        "*galera*",
        "*patroni*",
        "*pg_cluster*",
        "*postgres*cluster*",
        "*mysql*cluster*",
        "*innodb_cluster*",
        "mongo*",
        "rabbitmq*",
        "kafka*",
        "*quorum*",
        "*db_cluster*",
        "*database*cluster*",
    )
    budget: Budget = Field(default=Budget(count=1), description="members of such a group down at once")

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: Budget) -> Budget:
        if value.count == 0:
            raise ValueError("a quorum budget of 0 would never let a member go down")
        return value


class Policy(BaseModel):
    """A whole rollout policy. Build one with `model_validate` (or `parse_policy` for problems with locations)."""

    model_config = _FROZEN

    version: Literal[1] = 1
    description: str = ""
    horizon: timedelta = Field(default=timedelta(days=7), description="how far ahead maintenance windows are sought")
    failure_budget: Budget = Field(default=Budget(percent=5.0), description="failed hosts the whole rollout tolerates")
    classes: dict[ClassName, RiskClassPolicy] = Field(min_length=1)
    wave_order: tuple[ClassName, ...] = Field(min_length=1)
    rules: tuple[RiskRule, ...] = ()
    default_class: ClassName
    canary: CanaryPolicy = CanaryPolicy()
    emergency: EmergencyPolicy = EmergencyPolicy()
    retries: RetryPolicy = RetryPolicy()
    quorum: QuorumPolicy = QuorumPolicy()
    # Hooks and stale-service handling of every host that does not set its own in the inventory.
    snapshot_hook: Hook | None = Field(default=None, description="snapshot step before anything changes")
    pre_hook: Hook | None = Field(default=None, description="drain step before the update")
    post_hook: Hook | None = Field(default=None, description="undrain step after it, whatever happened")
    stale_services: StaleServices = Field(
        default=StaleServices.REPORT, description="restart or only report services still using replaced libraries"
    )
    max_batches: int = Field(
        default=20,
        ge=1,
        description="batches per stage at most: a larger stage gets batches of more than its concurrency (the "
        "dispatcher still runs at most `concurrency` hosts at once, and so does a batch run by hand)",
    )
    expected_duration: timedelta = Field(
        default=timedelta(minutes=10),
        description="how long one host's apply is expected to take; a host starts in a window only if this fits",
    )

    @field_validator("horizon", "expected_duration", mode="before")
    @classmethod
    def _horizon(cls, value: Any) -> timedelta:
        return parse_span(value)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems: list[Problem] = []

        def problem(message: str, *where: str | int, allowed: str | None = None) -> None:
            problems.append(Problem(message, field=format_location(where), allowed=allowed))

        defined = ", ".join(sorted(self.classes))
        seen: set[str] = set()
        for index, name in enumerate(self.wave_order):
            if name not in self.classes:
                problem(f"class {name!r} is in the wave order but not defined in classes", "wave_order", index,
                        allowed=defined)  # fmt: skip
            if name in seen:
                problem(f"class {name!r} appears twice in the wave order", "wave_order", index)
            seen.add(name)
        for name in sorted(set(self.classes) - seen):
            problem(f"class {name!r} is defined but missing from the wave order", "classes", name)
        for index, rule in enumerate(self.rules):
            if rule.risk_class not in self.classes:
                problem(f"rule assigns undefined class {rule.risk_class!r}", "rules", index, "class", allowed=defined)
        for index, rule in enumerate(self.rules[:-1]):
            if rule.matches_everything:
                problem(f"rule has no conditions, so rules after it ({index + 1}..) can never match", "rules", index)
                break
        if self.default_class not in self.classes:
            problem(f"default class {self.default_class!r} is not defined", "default_class", allowed=defined)
        if problems:
            # Not a ValueError on purpose: pydantic would flatten the locations; PolicyError keeps each field.
            raise PolicyError(problems, summary="invalid policy")
        return self

    def class_rank(self, name: str) -> int:
        """The class's place in the wave order, 0 first."""
        return self.wave_order.index(name)

    def canonical_json(self) -> str:
        """The policy as canonical JSON (sorted keys, compact): the input of `digest`."""
        data = self.model_dump(mode="json", by_alias=True)
        # Settings added later are left out while they hold their defaults: a policy digest stays what it was.
        for key in _LATER_SETTINGS:
            if data.get(key) == Policy.model_fields[key].get_default():
                data.pop(key, None)
        return canonical_json(data)

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON: plans record it so a stored plan names the policy it came from."""
        return sha256_hex(self.canonical_json())


_LATER_SETTINGS = ("snapshot_hook", "pre_hook", "post_hook", "stale_services")


def format_location(location: Sequence[str | int]) -> str:
    """`("rules", 2, "class")` as `rules[2].class`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_policy(
    data: Any,
    *,
    source: str | None = None,
    line_of: Callable[[Location], int | None] | None = None,
) -> Policy:
    """Validate policy data; every problem becomes a `Problem` naming `source`, the line (via `line_of`) and field.

    `line_of` maps a location (keys and indices from the top) to a line number; the YAML loader in
    `patchorch.sources.policy` supplies one. Raises `PolicyError` listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise PolicyError([Problem("expected a mapping at the top of the policy", file=source, line=1)])

    def line(location: Location) -> int | None:
        return line_of(location) if line_of is not None else None

    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        # `X | None` fields report a second "should be None" error beside the real one; it only adds noise.
        errors = [e for e in errors if e["type"] != "none_required"] or errors
        for error in errors:
            location = _clean_location(error["loc"])
            problems.append(
                Problem(
                    _message(error),
                    file=source,
                    line=line(location),
                    field=format_location(location) or None,
                    value=error.get("input"),
                )
            )
        raise PolicyError(problems, summary="invalid policy") from None
    except PolicyError as exc:
        located = [
            Problem(
                p.message,
                file=source,
                line=line(_parse_field(p.field)),
                field=p.field,
                value=p.value,
                allowed=p.allowed,
            )
            for p in exc.problems
        ]
        raise PolicyError(located, summary="invalid policy") from None


def _clean_location(location: Sequence[str | int]) -> Location:
    # pydantic appends "[key]" for dict-key errors and validator names for function validators; drop both.
    return tuple(part for part in location if part != "[key]" and not (isinstance(part, str) and "[" in part))


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required but missing"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"{error.get('input')!r} is not a valid name: use lowercase letters, digits and '-'"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _parse_field(field: str | None) -> Location:
    if not field:
        return ()
    location: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        location.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(location)
