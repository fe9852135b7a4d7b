"""The staged rollout planner: fleet + policy + now -> a frozen `RolloutPlan`. Pure: no files, no clock.

    >>> from datetime import UTC, datetime
    >>> rollout = plan(fleet, policy, mode=Mode.REGULAR, now=datetime(2025, 3, 5, 12, 0, tzinfo=UTC))  # doctest: +SKIP
    >>> [stage.name for stage in rollout.stages]                                                      # doctest: +SKIP
    ['canary', 'wave-1-critical', 'wave-2-high', 'wave-3-medium', 'wave-4-low']

How a plan is made:

1. **Exclusions.** Each host of the fleet is left out for the first reason that applies, in this order:
   decommissioned, excluded in the inventory, outside `--limit`, not among the given targets (not affected),
   unavailable, and finally `cluster-budget` when the cluster's unavailable members already use its whole disruption
   budget (patching any other member would exceed it). Every exclusion says why in words.
2. **Risk.** Every target gets a risk class (`patchorch.domain.risk`): an inventory override wins, else the first
   matching rule, else the policy's default class.
3. **Canary.** A representative sample of the targets: it covers each distinct (OS, service) pair present, most
   common pairs first, as far as the size allows; among candidates it prefers canary-eligible hosts, then lower
   criticality, then the name. Size: the policy's count or percentage of the targets rounded up, at least 1, and
   never every target when there are two or more; capped at `max_per_pair` hosts per pair (after each pair's first
   host, a host joins only while every pair it runs has fewer), so 10% of 100,000 hosts is still a canary of a few
   hosts per configuration, not 10,000.
4. **Waves.** The other targets, grouped by risk class in the policy's wave order (regular), or by exposure
   (internet-facing first) and then risk class (emergency). Within a wave, hosts are packed first-fit into batches,
   in order of their maintenance window's opening (regular) or name (emergency).
5. **Batches** are what a person reads and what a run by hand takes one at a time; the dispatcher starts hosts
   whenever a slot frees, so they are a projection of the order, not a barrier. A batch holds the stage's
   concurrency, or more when the stage would otherwise have more than the policy's `max_batches`: a 100,000-host
   plan has a few dozen batches, not thousands of two. A rendered stage play runs at most `concurrency` hosts at
   once (`serial`) however large its batch.

**Cluster budgets, and "held by the canary".** A cluster may have `allowed_down` members down at once; members
already unavailable count against it, so each batch may take at most `room = allowed_down - unavailable` members of
the cluster. The canary stage is different: its hosts stay held (patched but under observation, and possibly broken)
until the canary's soak ends, so the canary stage *as a whole*, not only each of its batches, takes at most `room`
members of a cluster. The canary stage runs first and finishes before wave 1 starts, so canary hosts do not count
against the waves' batches. A cluster whose room is 0 or less cannot lose another member: its available members are
left out with `cluster-budget`.

**Windows.** In a regular rollout a host with maintenance windows can start when its next window opens within the
policy's horizon; a stage's `earliest_start` is the earliest opening among its hosts (`now` when one of them has no
window). Hosts whose window does not open within the horizon stay in their wave, flagged `outside_horizon`, last in
the wave, and are listed in the warnings. An emergency rollout ignores windows and says so.

Everything is sorted (hosts by name, stages by order), so the plan's JSON does not depend on inventory order or
PYTHONHASHSEED. The cost is O(n log n) in the number of hosts: risk and window answers are cached per distinct
input, batches are packed with a union-find over "next batch with room", and plan values are built with
`model_construct` because the planner only produces values that are valid by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from patchorch.domain.canonical import sha256_hex
from patchorch.domain.due import due_at
from patchorch.domain.eligibility import exclusion_detail, exclusion_reason
from patchorch.domain.fleet import Criticality, Exposure, Fleet, Host, StaleServices
from patchorch.domain.plan import (
    PLAN_SCHEMA_VERSION,
    Batch,
    Exclusion,
    ExclusionReason,
    HostSettings,
    Mode,
    PlannedHost,
    RolloutPlan,
    Stage,
    StageKind,
    UpdateSpec,
)
from patchorch.domain.policy import CanaryPolicy, Policy
from patchorch.domain.redundancy import describe_services, unclustered_peers, with_quorum_budgets
from patchorch.domain.risk import RiskAssessment, assess, check_overrides
from patchorch.domain.spans import format_span
from patchorch.domain.vulnerability import HostVulnerability
from patchorch.domain.windows import WeeklyWindow, next_opening
from patchorch.errors import PlanError

# Warnings list at most this many host names, then "and N more"; every host is flagged in `hosts` anyway.
_NAMES_SHOWN = 10

_ALWAYS = datetime.min.replace(tzinfo=UTC)
_UNKNOWN = datetime.min  # a sentinel for the window cache: never a real (aware) answer
_NEVER = datetime.max.replace(tzinfo=UTC)

# An (OS, service) pair a canary should cover: ("debian 12", "smtp"); service "" for a host without services.
Pair = tuple[str, str]


@dataclass(slots=True)
class _Target:
    """One host that will be patched, with what the planner worked out about it."""

    # Copied from the host in the one pass over the fleet, so later passes touch these small records only (at 100k
    # hosts, going back to the Host objects costs a cache miss per host per pass).
    host: Host
    name: str
    cluster: str | None
    canary: bool
    criticality: Criticality
    exposure: Exposure
    kind: tuple[str, tuple[str, ...]]  # (OS label, services): what the canary should cover
    has_windows: bool
    risk: RiskAssessment
    rank: int
    due: datetime
    windowed: bool = False  # has windows and they count (a regular rollout)
    opens: datetime | None = None
    stage: str = ""
    batch: int = 0
    reason: str = ""
    pairs: tuple[Pair, ...] = ()

    @property
    def outside(self) -> bool:
        return self.windowed and self.opens is None


def plan(
    fleet: Fleet,
    policy: Policy,
    *,
    mode: Mode,
    now: datetime,
    in_limit: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
    update: UpdateSpec = UpdateSpec(),  # noqa: B008  # a frozen value, safe to share
    vulnerabilities: Iterable[HostVulnerability] | None = None,
    limit: str | None = None,
) -> RolloutPlan:
    """Plan a rollout of `update` over `fleet` under `policy`, as of `now` (timezone-aware).

    `in_limit` names the hosts matching `--limit` (None: no limit; `limit` is the pattern, recorded in the plan).
    `targets` names the affected hosts of an advisory rollout; the others are excluded as not affected.
    `vulnerabilities` feed the policy's CVSS / known-exploited / decision rules.
    Raises `PlanError` when `now` is naive or an inventory override names a class the policy does not define.
    """
    if now.tzinfo is None:
        raise PlanError("the planning time must be timezone-aware (UTC)", field="now")
    now = now.astimezone(UTC)
    mode = Mode(mode)
    emergency = mode is Mode.EMERGENCY
    vulns = _index_vulnerabilities(vulnerabilities)
    limited = frozenset(in_limit) if in_limit is not None else None
    wanted = frozenset(targets) if targets is not None else None
    classes = policy.classes
    declared = fleet
    # Likely quorum members the inventory puts in no cluster are planned as one (policy `quorum`, docs/INVENTORY.md).
    fleet, quorum_clusters = with_quorum_budgets(fleet, policy.quorum)

    # One pass over the fleet: overrides checked, unavailable members counted, exclusions found, targets assessed.
    bad_overrides: list[Host] = []
    unavailable: Counter[str] = Counter()
    excluded: list[Host] = []
    candidates: list[_Target] = []
    # Risk, wave rank and due time depend on a few host fields only: computed once per distinct combination.
    risk_cache: dict[object, tuple[RiskAssessment, int, datetime]] = {}
    window_cache: dict[tuple[object, ...], datetime | None] = {}
    for host in fleet.hosts:
        name = host.name
        cluster = host.cluster
        override = host.risk_class
        if override is not None and override not in classes:
            bad_overrides.append(host)
            continue
        if host.unavailable and cluster is not None:
            unavailable[cluster] += 1
        if exclusion_reason(host, in_limit=limited, targets=wanted) is not None:
            excluded.append(host)
            continue
        vulnerability = vulns.get(name) if vulns else None
        services = host.services
        key = (
            override,
            host.criticality,
            host.exposure,
            services,
            None
            if vulnerability is None
            else (
                vulnerability.max_cvss,
                vulnerability.known_exploited,
                vulnerability.decision,
                vulnerability.kev_due,
                vulnerability.disclosed,
            ),
        )
        cached = risk_cache.get(key)
        if cached is None:
            risk = assess(host, policy, vulnerability)
            due = due_at(
                classes[risk.risk_class].sla,
                known_at=now,
                disclosed=vulnerability.disclosed if vulnerability else None,
                kev_due=vulnerability.kev_due if vulnerability else None,
            )
            cached = risk_cache[key] = (risk, policy.class_rank(risk.risk_class), due)
        windows = host.maintenance_windows
        target = _Target(
            host,
            name,
            cluster,
            host.canary,
            host.criticality,
            host.exposure,
            (host.os_label, services),
            bool(windows),
            *cached,
        )
        if windows and not emergency:
            target.windowed = True
            # Plain tuples hash and compare far faster than the pydantic models they describe.
            window_key = tuple((w.days, w.start, w.duration, w.timezone) for w in windows)
            opens = window_cache.get(window_key, _UNKNOWN)
            if opens is _UNKNOWN:
                opens = window_cache[window_key] = next_opening(windows, now, policy.horizon)
            target.opens = opens
        candidates.append(target)
    if bad_overrides:
        check_overrides(bad_overrides, policy)

    room = {name: cluster.allowed_down - unavailable[name] for name, cluster in fleet.clusters.items()}
    chosen: list[_Target] = []
    for target in candidates:
        if target.cluster is not None and room[target.cluster] <= 0:
            excluded.append(target.host)
        else:
            chosen.append(target)
    excluded.sort(key=lambda host: host.name)
    exclusions = [_exclusion(host, limited, limit, wanted, update, room) for host in excluded]

    canary_policy = policy.emergency.canary if emergency else policy.canary
    canary, uncovered = _select_canary(chosen, canary_policy, room)
    in_canary = {id(target) for target in canary}
    rest = [target for target in chosen if id(target) not in in_canary]

    stages: list[Stage] = []
    if canary:
        stages.append(_canary_stage(canary, canary_policy, room, now, emergency, policy.max_batches))
    # Waves exist only when there are targets, and then the canary (never empty) is stage 1.
    for wave, (wave_key, members) in enumerate(_waves(rest, emergency), start=1):
        stages.append(_wave_stage(wave, wave_key, members, policy, room, now, emergency))

    failure_budget = (policy.emergency.failure_budget if emergency else None) or policy.failure_budget
    fields_set = set(_PLANNED_HOST_FIELDS)
    hosts = tuple(
        _planned_host(
            {
                "name": t.name,
                "stage": t.stage,
                "batch": t.batch,
                "risk_class": t.risk.risk_class,
                "risk_class_overridden": t.risk.overridden,
                "reason": t.reason,
                "due": t.due,
                "window_opens": t.opens,
                "outside_horizon": t.windowed and t.opens is None,
                "cluster": t.cluster,
                "owner": f"{t.host.owner.team} <{t.host.owner.contact}>" if t.host.owner is not None else None,
                "windows": tuple(WeeklyWindow.of(w) for w in t.host.maintenance_windows) if t.windowed else (),
            },
            fields_set,
        )
        for t in chosen  # fleet order: sorted by name
    )
    return RolloutPlan.model_construct(
        schema_version=PLAN_SCHEMA_VERSION,
        mode=mode,
        planned_at=now,
        horizon=policy.horizon,
        update=update,
        limit=limit,
        policy_digest=policy.digest,
        fleet_digest=fleet_digest(declared),
        failure_budget=failure_budget.of(len(chosen)),
        unreachable_retries=policy.retries.unreachable,
        retry_backoff_seconds=policy.retries.backoff_seconds,
        expected_duration=policy.expected_duration,
        cluster_room={c: room[c] for c in sorted({t.cluster for t in chosen if t.cluster is not None})},
        stages=tuple(stages),
        hosts=hosts,
        exclusions=tuple(exclusions),
        warnings=_warnings(chosen, wanted, fleet, uncovered, canary, canary_policy, emergency, policy)
        + _redundancy_warnings(declared, policy, quorum_clusters, {t.name for t in chosen}),
        host_settings=host_settings(tuple(t.host for t in chosen), policy),
    )


def host_settings(hosts: Iterable[Host], policy: Policy) -> tuple[HostSettings, ...]:
    """Each host's hooks and stale-service handling: its own inventory values, else the policy's.

    Hosts whose settings are all defaults (no hooks, stale services reported) are left out.
    """
    default_snapshot, default_pre, default_post = policy.snapshot_hook, policy.pre_hook, policy.post_hook
    default_stale = policy.stale_services
    everyone = (
        default_snapshot is not None
        or default_pre is not None
        or default_post is not None
        or default_stale is not StaleServices.REPORT
    )
    result = []
    for host in hosts:
        # Most fleets set none of these: the common case reads four attributes and builds no model.
        own_snapshot, own_pre, own_post = host.snapshot_hook, host.pre_hook, host.post_hook
        own_stale = host.stale_services
        if everyone or own_snapshot or own_pre or own_post or own_stale is not None:
            stale = own_stale or default_stale
            settings = HostSettings(
                host=host.name,
                snapshot_hook=own_snapshot or default_snapshot,
                pre_hook=own_pre or default_pre,
                post_hook=own_post or default_post,
                stale_services=stale,
            )
            if settings.snapshot_hook or settings.pre_hook or settings.post_hook or stale is not StaleServices.REPORT:
                result.append(settings)
    return tuple(result)


_PLANNED_HOST_FIELDS = frozenset(
    (
        "name",
        "stage",
        "batch",
        "risk_class",
        "risk_class_overridden",
        "reason",
        "due",
        "window_opens",
        "outside_horizon",
        "cluster",
        "windows",
        "owner",
    )
)
# PlannedHost is built once per target, and even model_construct costs more than the rest of planning a host. When
# the model is plain (exactly these fields, no post-init hook, no private attributes) an instance is assembled the
# way model_construct assembles it, without its per-field alias handling; otherwise model_construct is used.
# tests/domain/test_planner.py checks that both give equal instances and identical JSON.
_PLANNED_HOST_IS_PLAIN = (
    set(PlannedHost.model_fields) == _PLANNED_HOST_FIELDS
    and not PlannedHost.__pydantic_post_init__
    and not PlannedHost.__private_attributes__
    and PlannedHost.model_config.get("extra") != "allow"
)


def _planned_host(values: dict[str, Any], fields_set: set[str]) -> PlannedHost:
    """A PlannedHost from values that are valid by construction (see _PLANNED_HOST_IS_PLAIN).

    `fields_set` is shared by the hosts of one plan, as `model_construct(_fields_set=...)` would share it: pydantic
    copies it before changing it (`model_copy`), and frozen models never add to it.
    """
    if not _PLANNED_HOST_IS_PLAIN:
        return PlannedHost.model_construct(fields_set, **values)
    host = PlannedHost.__new__(PlannedHost)
    _set = object.__setattr__
    _set(host, "__dict__", values)
    _set(host, "__pydantic_fields_set__", fields_set)
    _set(host, "__pydantic_extra__", None)
    _set(host, "__pydantic_private__", None)
    return host


def fleet_digest(fleet: Fleet) -> str:
    """SHA-256 of the fleet's hosts as canonical JSON: sorted by name, fields in schema order, defaults omitted.

    `defaulted` is left out: it only says which values were defaults, and pydantic writes a frozenset in hash order,
    which would make the digest depend on PYTHONHASHSEED. pydantic's own JSON writer is used because it is an order of
    magnitude faster than `json.dumps` over `model_dump` for large fleets.
    """
    text = fleet.model_dump_json(
        include={"hosts"}, exclude={"hosts": {"__all__": {"defaulted"}}}, exclude_defaults=True
    )
    return sha256_hex(text)


def _index_vulnerabilities(vulnerabilities: Iterable[HostVulnerability] | None) -> dict[str, HostVulnerability]:
    index: dict[str, HostVulnerability] = {}
    for record in vulnerabilities or ():
        if record.host in index:
            raise PlanError(f"host {record.host}: two vulnerability records; merge them first", host=record.host)
        index[record.host] = record
    return index


def _exclusion(
    host: Host,
    limited: frozenset[str] | None,
    limit: str | None,
    wanted: frozenset[str] | None,
    update: UpdateSpec,
    room: Mapping[str, int],
) -> Exclusion:
    name = host.name
    reason = exclusion_reason(host, in_limit=limited, targets=wanted)
    if reason is not None:
        return _excluded(name, reason, exclusion_detail(host, reason, limit=limit, advisory=update.advisory))
    if host.cluster is not None and room[host.cluster] <= 0:
        return _excluded(
            name,
            ExclusionReason.CLUSTER_BUDGET,
            f"cluster {host.cluster}: its unavailable members already use the whole disruption budget"
            f" ({room[host.cluster]} left); patching it would take one more down",
        )
    raise AssertionError(f"{name} has no reason to be excluded")  # the caller checked that one applies


def _excluded(host: str, reason: ExclusionReason, detail: str) -> Exclusion:
    return Exclusion.model_construct(host=host, reason=reason, detail=detail)


def _pairs(os_label: str, services: tuple[str, ...]) -> tuple[Pair, ...]:
    return tuple((os_label, service) for service in sorted(set(services))) or ((os_label, ""),)


def _pair_label(pair: Pair) -> str:
    return f"{pair[0]}/{pair[1]}" if pair[1] else pair[0]


def canary_size(policy: CanaryPolicy, targets: int) -> int:
    """How many hosts the canary takes of `targets`: rounded up, at least 1, never all when there are two or more."""
    if targets == 0:
        return 0
    size = max(1, policy.size.of_rounding_up(targets))
    return min(size, targets - 1) if targets > 1 else 1


def _select_canary(
    targets: Sequence[_Target], policy: CanaryPolicy, room: Mapping[str, int]
) -> tuple[list[_Target], list[Pair]]:
    """Pick the canary (see the module docstring); return it and the pairs it could not cover."""
    size = canary_size(policy, len(targets))
    if size == 0:
        return [], []
    cap = policy.max_per_pair
    rank = {criticality: criticality.rank for criticality in Criticality}
    ordered = sorted(targets, key=lambda t: (not t.canary, rank[t.criticality], t.name))
    holders: dict[Pair, list[_Target]] = {}
    pairs_of: dict[tuple[str, tuple[str, ...]], tuple[Pair, ...]] = {}
    for target in ordered:
        kind = target.kind
        pairs = pairs_of.get(kind)
        if pairs is None:
            pairs = pairs_of[kind] = _pairs(*kind)
        target.pairs = pairs
        for pair in target.pairs:
            holders.setdefault(pair, []).append(target)
    if cap is not None:
        size = min(size, cap * len(holders))
    held: Counter[str] = Counter()
    per_pair: Counter[Pair] = Counter()
    covered: set[Pair] = set()
    picked: list[_Target] = []
    taken: set[int] = set()

    def fits(target: _Target) -> bool:
        cluster = target.cluster
        return cluster is None or held[cluster] < room[cluster]

    def below_cap(target: _Target) -> bool:
        return cap is None or all(per_pair[pair] < cap for pair in target.pairs)

    def take(target: _Target, why: str) -> None:
        picked.append(target)
        taken.add(id(target))
        covered.update(target.pairs)
        per_pair.update(target.pairs)
        if target.cluster is not None:
            held[target.cluster] += 1
        eligible = "canary-eligible, " if target.canary else ""
        target.reason = f"canary: {why}; {eligible}criticality {target.criticality}"

    # Most common pairs first: with a small canary, the configurations most of the fleet runs are proved first.
    for pair in sorted(holders, key=lambda p: (-len(holders[p]), p)):
        if len(picked) >= size:
            break
        if pair in covered:
            continue
        for target in holders[pair]:
            # A host already picked would have covered the pair, so only cluster room can rule one out here.
            if fits(target):
                new = [_pair_label(p) for p in target.pairs if p not in covered]
                take(target, "covers " + ", ".join(new))
                break
    for target in ordered:
        if len(picked) >= size:
            break
        if id(target) not in taken and fits(target) and below_cap(target):
            take(target, f"fills the canary to {size} host{'s' if size > 1 else ''}")
    uncovered = sorted(pair for pair in holders if pair not in covered)
    return picked, uncovered


def _batch_size(hosts: int, concurrency: int, max_batches: int) -> int:
    """The stage's concurrency, or enough more that `hosts` fill at most `max_batches` batches (rounded up)."""
    return max(concurrency, -(-hosts // max_batches))


def _pack(members: Sequence[_Target], concurrency: int, room: Mapping[str, int]) -> list[list[_Target]]:
    """First-fit batches: at most `concurrency` hosts, and at most `room[c]` members of each cluster c, per batch.

    `free[i]` points towards the first batch at or after i that is not full (a union-find with path compression),
    and each cluster remembers the first batch it may still join: nearly O(n) instead of O(n x batches).
    """
    batches: list[list[_Target]] = []
    free: list[int] = []
    in_batch: dict[tuple[str, int], int] = {}
    first_for: dict[str, int] = {}

    def find(index: int) -> int:
        root = index
        while root < len(free) and free[root] != root:
            root = free[root]
        while index < len(free) and free[index] != index:
            free[index], index = root, free[index]
        return root

    for target in members:
        cluster = target.cluster
        index = find(first_for.get(cluster, 0) if cluster is not None else 0)
        if index == len(batches):
            batches.append([])
            free.append(index)
        batches[index].append(target)
        if len(batches[index]) >= concurrency:
            free[index] = index + 1
        if cluster is not None:
            count = in_batch[(cluster, index)] = in_batch.get((cluster, index), 0) + 1
            first_for[cluster] = index + 1 if count >= room[cluster] else index
    return batches


def _earliest_start(members: Sequence[_Target], now: datetime, emergency: bool) -> datetime | None:
    if emergency:
        return now
    openings = [now if not t.windowed else t.opens for t in members]
    known = [opening for opening in openings if opening is not None]
    return min(known) if known else None


def _batches(stage: str, groups: list[list[_Target]]) -> tuple[Batch, ...]:
    result = []
    for number, group in enumerate(groups, start=1):
        names = []
        for target in group:
            target.stage = stage
            target.batch = number
            names.append(target.name)
        result.append(Batch.model_construct(index=number, hosts=tuple(names)))
    return tuple(result)


def _canary_stage(
    canary: list[_Target],
    policy: CanaryPolicy,
    room: Mapping[str, int],
    now: datetime,
    emergency: bool,
    max_batches: int,
) -> Stage:
    members = sorted(canary, key=lambda t: t.name)
    for target in members:
        target.reason += f"; risk {target.risk.risk_class}: {target.risk.reason}"
    return Stage.model_construct(
        name="canary",
        kind=StageKind.CANARY,
        index=1,
        risk_class=None,
        batches=_batches("canary", _pack(members, _batch_size(len(members), policy.concurrency, max_batches), room)),
        concurrency=policy.concurrency,
        soak=policy.soak,
        approval_required=policy.approval,
        earliest_start=_earliest_start(members, now, emergency),
        reason=f"{_count(len(members), 'representative host')} {'prove' if len(members) > 1 else 'proves'}"
        f" the update first; soak {format_span(policy.soak)}",
        failure_budget=policy.failure_budget.of(len(members)),
    )


def _waves(rest: Sequence[_Target], emergency: bool) -> list[tuple[tuple[int, str, str], list[_Target]]]:
    """Targets grouped into waves, in wave order: key (exposure rank or 0, exposure or "", class) -> members."""
    waves: dict[tuple[int, int, str], list[_Target]] = {}
    for target in rest:
        exposure = target.exposure
        key = (exposure.rank, target.rank, str(exposure)) if emergency else (0, target.rank, "")
        waves.setdefault(key, []).append(target)
    result = []
    for key in sorted(waves):
        members = waves[key]
        if emergency:
            members.sort(key=lambda t: t.name)
        else:
            # Windows opening first go first (unrestricted hosts count as open now); hosts outside the horizon last.
            members.sort(key=lambda t: (t.outside, t.opens or _NEVER if t.windowed else _ALWAYS, t.name))
        result.append(((key[0], key[2], members[0].risk.risk_class), members))
    return result


def _wave_stage(
    wave: int,
    key: tuple[int, str, str],
    members: list[_Target],
    policy: Policy,
    room: Mapping[str, int],
    now: datetime,
    emergency: bool,
) -> Stage:
    _, exposure, risk_class = key
    rules = policy.classes[risk_class]
    name = f"wave-{wave}-{exposure}-{risk_class}" if exposure else f"wave-{wave}-{risk_class}"
    soak = policy.emergency.soak if emergency and policy.emergency.soak is not None else rules.soak
    where = f"exposure {exposure}, risk {risk_class}" if exposure else f"risk {risk_class}"
    reasons: dict[str, str] = {}  # one string per distinct risk reason, shared by every host that has it
    for target in members:
        reason = reasons.get(target.risk.reason)
        if reason is None:
            reason = reasons[target.risk.reason] = f"wave {wave}, {where}: {target.risk.reason}"
        target.reason = reason
    reason = f"risk {risk_class}: patch within {format_span(rules.sla)}"
    if exposure:
        reason = f"exposure {exposure}, " + reason
    return Stage.model_construct(
        name=name,
        kind=StageKind.WAVE,
        index=wave + 1,
        risk_class=risk_class,
        batches=_batches(name, _pack(members, _batch_size(len(members), rules.concurrency, policy.max_batches), room)),
        concurrency=rules.concurrency,
        soak=soak,
        approval_required=rules.approval,
        earliest_start=_earliest_start(members, now, emergency),
        reason=reason,
        failure_budget=rules.failure_budget.of(len(members)),
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _names(hosts: Sequence[str]) -> str:
    shown = ", ".join(hosts[:_NAMES_SHOWN])
    return shown + (f" and {len(hosts) - _NAMES_SHOWN} more" if len(hosts) > _NAMES_SHOWN else "")


def _redundancy_warnings(
    fleet: Fleet, policy: Policy, quorum_clusters: Mapping[str, tuple[str, ...]], targets: set[str]
) -> tuple[str, ...]:
    """Targets that share a group (and a service) with no cluster, and the budget the quorum default gave them."""
    warnings = []
    budget = policy.quorum.budget
    for peers in unclustered_peers(fleet, policy.quorum.groups):
        concerned = [name for name in peers.hosts if name in targets]
        if len(concerned) < 2:
            continue
        if peers.quorum:
            cluster = next((name for name, groups in quorum_clusters.items() if peers.group in groups), None)
            warnings.append(
                f"group {peers.group} looks like quorum members and declares no patchorch_cluster:"
                f" {_names(list(peers.hosts))} are planned as cluster {cluster}, {budget} down at once"
                " (policy quorum default; declare patchorch_cluster and patchorch_cluster_budget to decide)"
            )
        else:
            warnings.append(
                f"{_names(list(peers.hosts))} share group {peers.group} and {describe_services(peers.services)} but no"
                " patchorch_cluster: nothing keeps them from going down together"
            )
    return tuple(warnings)


def _warnings(
    chosen: Sequence[_Target],
    wanted: frozenset[str] | None,
    fleet: Fleet,
    uncovered: Sequence[Pair],
    canary: Sequence[_Target],
    canary_policy: CanaryPolicy,
    emergency: bool,
    policy: Policy,
) -> tuple[str, ...]:
    warnings: list[str] = []
    if not fleet.hosts:
        warnings.append("no targets: the inventory has no hosts, nothing to patch")
    elif not chosen:
        warnings.append("no targets: every host of the inventory is excluded, nothing to patch")
    if emergency:
        windowed = sum(1 for t in chosen if t.has_windows)
        warnings.append(
            f"emergency: maintenance windows are ignored ({_count(windowed, 'target host')} with windows);"
            " approvals still apply as the policy says"
        )
    outside = [t.name for t in chosen if t.outside]
    if outside:
        warnings.append(
            f"{_count(len(outside), 'host')} without a maintenance window opening within"
            f" {format_span(policy.horizon)} (outside_horizon): {_names(outside)}"
        )
    late = [t.name for t in chosen if t.opens is not None and t.opens > t.due]
    if late:
        warnings.append(
            f"{_count(len(late), 'host')} whose next maintenance window opens after the time-to-patch target:"
            f" {_names(late)}"
        )
    if uncovered:
        labels = [_pair_label(pair) for pair in uncovered]
        warnings.append(
            f"the canary ({_count(len(canary), 'host')}, size {canary_policy.size}) does not cover"
            f" {_count(len(labels), 'OS/service pair')}: {_names(labels)}"
        )
    if wanted is not None:
        unknown = sorted(name for name in wanted if name not in fleet)
        if unknown:
            warnings.append(f"{_count(len(unknown), 'target')} not in the inventory: {_names(unknown)}")
    return tuple(warnings)
