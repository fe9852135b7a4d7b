"""Planner invariants over generated fleets and policies."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from patchorch.domain.fleet import Exposure, Fleet, Lifecycle
from patchorch.domain.plan import Mode, RolloutPlan, StageKind
from patchorch.domain.planner import plan
from patchorch.domain.policy import Policy
from tests.strategies import fleets, policies

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)  # a Monday
modes = st.sampled_from([Mode.REGULAR, Mode.EMERGENCY])


def _plan(fleet: Fleet, policy: Policy, mode: Mode) -> RolloutPlan:
    return plan(fleet, policy, mode=mode, now=NOW)


@given(fleets(), policies(), modes)
def test_every_target_lands_in_exactly_one_stage(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """Each host is either planned once (in one stage and batch) or excluded once, never both."""
    rollout = _plan(fleet, policy, mode)
    planned = list(rollout.targets)
    excluded = [exclusion.host for exclusion in rollout.exclusions]
    assert len(planned) == len(set(planned))
    assert sorted(planned + excluded) == sorted(host.name for host in fleet)
    assert sorted(planned) == sorted(host.name for host in rollout.hosts)
    for host in rollout.hosts:
        assert host.name in rollout.stage(host.stage).batches[host.batch - 1].hosts


@given(fleets(), policies(), modes)
def test_canary_is_non_empty_when_there_are_targets(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """A plan with targets starts with a canary of at least one host, never every target when there are two."""
    rollout = _plan(fleet, policy, mode)
    if not rollout.hosts:
        assert rollout.stages == ()
        return
    canary = rollout.stages[0]
    assert canary.kind is StageKind.CANARY
    assert len(canary.hosts) >= 1
    if len(rollout.hosts) > 1:
        assert len(canary.hosts) < len(rollout.hosts)


@given(fleets(), policies(), modes)
def test_the_canary_takes_at_most_its_cap_per_os_and_service_pair(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """Whatever the size says, the canary holds at most max_per_pair hosts per (OS, service) pair of the targets."""
    rollout = _plan(fleet, policy, mode)
    canary_policy = policy.emergency.canary if mode is Mode.EMERGENCY else policy.canary
    if not rollout.hosts or canary_policy.max_per_pair is None:
        return
    pairs = {
        (host.os_label, service)
        for host in (fleet.get(planned.name) for planned in rollout.hosts)
        for service in (sorted(set(host.services)) or [""])
    }
    assert len(rollout.stages[0].hosts) <= canary_policy.max_per_pair * len(pairs)


@given(fleets(), policies(), modes)
def test_no_batch_breaks_a_cluster_budget(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """Per batch (and for the whole held canary), members taken plus members unavailable stay within the budget."""
    rollout = _plan(fleet, policy, mode)
    unavailable = Counter(h.cluster for h in fleet if h.unavailable and h.cluster is not None)
    clusters = fleet.clusters

    def within(hosts: tuple[str, ...]) -> bool:
        taken = Counter(fleet.get(name).cluster for name in hosts if fleet.get(name).cluster is not None)
        return all(count + unavailable[c] <= clusters[c].allowed_down for c, count in taken.items() if c)

    for stage in rollout.stages:
        assert all(within(batch.hosts) for batch in stage.batches), stage
        if stage.kind is StageKind.CANARY:
            assert within(stage.hosts)


@given(fleets(), policies(), modes)
def test_no_batch_takes_more_quorum_members_than_the_quorum_budget(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """Per batch (and for the whole canary), unclustered members of a quorum group taken plus down stay within 1."""
    rollout = _plan(fleet, policy, mode)
    members = {
        group: {
            h.name
            for h in fleet
            if group in h.groups and h.cluster is None and not h.exclude and h.lifecycle is not Lifecycle.DECOMMISSIONED
        }
        for group in ("etcd", "kube_control_plane")
    }
    down = {group: sum(fleet.get(name).unavailable for name in names) for group, names in members.items()}
    assert policy.quorum.budget.count == 1  # the built-in quorum default

    def within(hosts: tuple[str, ...]) -> bool:
        taken = {group: len(names.intersection(hosts)) for group, names in members.items()}
        return all(taken[group] + down[group] <= 1 for group in members if taken[group])

    for stage in rollout.stages:
        assert all(within(batch.hosts) for batch in stage.batches), stage
        if stage.kind is StageKind.CANARY:
            assert within(stage.hosts)


@given(fleets(), policies(), modes)
def test_batches_hold_the_concurrency_or_what_max_batches_needs(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """A batch holds at most the stage's concurrency, or the stage's hosts spread over max_batches when that is more."""
    for stage in _plan(fleet, policy, mode).stages:
        size = max(stage.concurrency, -(-len(stage.hosts) // policy.max_batches))
        assert all(len(batch.hosts) <= size for batch in stage.batches)


@given(fleets(), policies(), modes)
def test_a_stage_without_clusters_has_at_most_max_batches(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """Only cluster (or quorum) room can split a stage into more than the policy's max_batches batches."""
    for stage in _plan(fleet, policy, mode).stages:
        if all(fleet.get(name).cluster is None and not fleet.get(name).groups for name in stage.hosts):
            assert len(stage.batches) <= policy.max_batches


@given(fleets(), policies())
def test_regular_waves_follow_the_policy_order(fleet: Fleet, policy: Policy) -> None:
    """Regular waves appear in the policy's wave order, one wave per class."""
    waves = [s for s in _plan(fleet, policy, Mode.REGULAR).stages if s.kind is StageKind.WAVE]
    ranks = [policy.class_rank(s.risk_class or "") for s in waves]
    assert ranks == sorted(set(ranks))


@given(fleets(), policies())
def test_emergency_waves_go_by_exposure_then_policy_order(fleet: Fleet, policy: Policy) -> None:
    """Emergency waves go internet-facing first, then by the policy's order within one exposure."""
    waves = [s for s in _plan(fleet, policy, Mode.EMERGENCY).stages if s.kind is StageKind.WAVE]
    keys = [(Exposure(s.name.split("-")[2]).rank, policy.class_rank(s.risk_class or "")) for s in waves]
    assert keys == sorted(set(keys))


@given(fleets(), policies(), modes, st.randoms(use_true_random=False))
def test_shuffled_inventory_gives_the_same_plan(fleet: Fleet, policy: Policy, mode: Mode, rng: object) -> None:
    """The order of hosts in the inventory never changes the plan's JSON."""
    hosts = list(fleet.hosts)
    rng.shuffle(hosts)  # type: ignore[attr-defined]
    shuffled = Fleet(hosts=tuple(hosts))
    assert _plan(shuffled, policy, mode).canonical_json() == _plan(fleet, policy, mode).canonical_json()


@settings(max_examples=25)
@given(fleets(), policies(), modes)
def test_the_plan_survives_a_json_round_trip(fleet: Fleet, policy: Policy, mode: Mode) -> None:
    """The planner's values (built without validation) validate and re-serialise to the same bytes."""
    rollout = _plan(fleet, policy, mode)
    assert RolloutPlan.from_json(rollout.canonical_json()).canonical_json() == rollout.canonical_json()
