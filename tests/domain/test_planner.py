"""The planner, rule by rule: exclusions, canary, waves and batches, windows, budgets, digests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from patchorch.domain.fleet import Fleet, Host
from patchorch.domain.plan import ExclusionReason, Mode, RolloutPlan, StageKind, UpdateSpec
from patchorch.domain.planner import canary_size, fleet_digest, plan
from patchorch.domain.policy import CanaryPolicy, Policy
from patchorch.domain.quantity import Budget
from patchorch.domain.vulnerability import HostVulnerability
from patchorch.errors import PlanError

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday
SUNDAY_2AM = {"days": ["sun"], "start": "02:00", "duration": "2h"}


def _policy(**changes: Any) -> Policy:
    data: dict[str, Any] = {
        "classes": {
            "critical": {"sla": "24h", "concurrency": 2, "soak": "30m", "failure_budget": 0, "approval": True},
            "high": {"sla": "3d", "concurrency": 3, "soak": "1h", "failure_budget": 1},
            "low": {"sla": "30d", "concurrency": 10, "failure_budget": "50%"},
        },
        "wave_order": ["critical", "high", "low"],
        "rules": [
            {"class": "critical", "criticality": "critical"},
            {"class": "high", "exposure": "internet"},
        ],
        "default_class": "low",
        "canary": {"size": 1, "concurrency": 1, "soak": "2h"},
        "failure_budget": "10%",
    }
    data.update(changes)
    return Policy.model_validate(data)


def _hosts(*specs: dict[str, Any]) -> Fleet:
    return Fleet(hosts=tuple(Host.model_validate(spec) for spec in specs))


def _plan(fleet: Fleet, policy: Policy | None = None, **kwargs: Any) -> RolloutPlan:
    kwargs.setdefault("mode", Mode.REGULAR)
    kwargs.setdefault("now", NOW)
    return plan(fleet, policy or _policy(), **kwargs)


def _exclusion(rollout: RolloutPlan, host: str) -> tuple[ExclusionReason, str]:
    found = [e for e in rollout.exclusions if e.host == host]
    assert len(found) == 1
    return found[0].reason, found[0].detail


# Exclusions


def test_decommissioned_hosts_are_excluded() -> None:
    """A decommissioned host is left out and says why."""
    rollout = _plan(_hosts({"name": "old", "lifecycle": "decommissioned"}, {"name": "a"}))
    assert _exclusion(rollout, "old") == (ExclusionReason.DECOMMISSIONED, "lifecycle is decommissioned")


def test_excluded_hosts_carry_the_inventory_reason() -> None:
    """`patchorch_exclude_reason` is shown as the detail."""
    rollout = _plan(_hosts({"name": "lab", "exclude": True, "exclude_reason": "vendor appliance"}, {"name": "a"}))
    assert _exclusion(rollout, "lab") == (ExclusionReason.EXCLUDED, "vendor appliance")


def test_hosts_outside_the_limit_are_excluded() -> None:
    """Hosts not matching --limit are excluded naming the pattern."""
    rollout = _plan(_hosts({"name": "a"}, {"name": "b"}), in_limit={"a"}, limit="a*")
    assert _exclusion(rollout, "b") == (ExclusionReason.OUTSIDE_LIMIT, "outside --limit a*")
    assert rollout.limit == "a*"


def test_hosts_not_among_the_targets_are_not_affected() -> None:
    """An advisory rollout excludes unaffected hosts, naming the advisory."""
    update = UpdateSpec(advisory="DSA-5000-1")
    rollout = _plan(_hosts({"name": "a"}, {"name": "b"}), targets=["a"], update=update)
    assert _exclusion(rollout, "b") == (ExclusionReason.NOT_AFFECTED, "not affected by DSA-5000-1")


def test_unavailable_hosts_are_excluded() -> None:
    """A host known to be down is left out with the inventory's reason."""
    rollout = _plan(_hosts({"name": "a"}, {"name": "b", "unavailable": True, "unavailable_reason": "RMA"}))
    assert _exclusion(rollout, "b") == (ExclusionReason.UNAVAILABLE, "RMA")


def test_a_cluster_with_no_room_left_is_excluded() -> None:
    """When unavailable members use the whole budget, the others are excluded rather than taken down too."""
    fleet = _hosts(
        {"name": "mx1", "cluster": "mx", "cluster_budget": 1, "unavailable": True},
        {"name": "mx2", "cluster": "mx", "cluster_budget": 1},
        {"name": "a"},
    )
    reason, detail = _exclusion(_plan(fleet), "mx2")
    assert reason is ExclusionReason.CLUSTER_BUDGET
    assert detail.startswith("cluster mx:")


def test_the_first_applicable_reason_is_the_one_given() -> None:
    """A decommissioned host outside the limit is reported as decommissioned."""
    rollout = _plan(_hosts({"name": "old", "lifecycle": "decommissioned"}, {"name": "a"}), in_limit={"a"})
    assert _exclusion(rollout, "old")[0] is ExclusionReason.DECOMMISSIONED


def test_unknown_targets_are_warned_about() -> None:
    """Targets that are not in the inventory are listed in the warnings."""
    rollout = _plan(_hosts({"name": "a"}), targets=["a", "ghost"])
    assert "1 target not in the inventory: ghost" in rollout.warnings


def test_an_empty_plan_says_why() -> None:
    """With every host excluded the plan has no stages and a warning."""
    rollout = _plan(_hosts({"name": "a", "exclude": True}))
    assert rollout.stages == ()
    assert rollout.warnings[0].startswith("no targets")


# Canary


def test_the_canary_covers_each_os_and_service_pair() -> None:
    """With room, the canary takes one host per distinct (OS, service) pair."""
    fleet = _hosts(
        *({"name": f"mx{i}", "services": ["smtp"], "os_family": "debian", "os_version": "12"} for i in range(4)),
        *({"name": f"imap{i}", "services": ["imap"], "os_family": "rocky", "os_version": "9"} for i in range(4)),
    )
    canary = _plan(fleet, _policy(canary={"size": 2})).stages[0]
    assert sorted(canary.hosts) == ["imap0", "mx0"]


def test_the_canary_covers_common_pairs_first() -> None:
    """With room for one host, the canary proves the pair most hosts run."""
    fleet = _hosts(
        {"name": "a", "services": ["dns"]},
        *({"name": f"mx{i}", "services": ["smtp"]} for i in range(3)),
    )
    assert _plan(fleet).stages[0].hosts == ("mx0",)


def test_the_canary_prefers_eligible_hosts() -> None:
    """A host marked `patchorch_canary` is picked before others of the same pair."""
    fleet = _hosts({"name": "a", "criticality": "low"}, {"name": "b", "criticality": "critical", "canary": True})
    assert _plan(fleet).stages[0].hosts == ("b",)


def test_the_canary_prefers_lower_criticality() -> None:
    """Among equally eligible hosts, the least critical is risked first."""
    fleet = _hosts({"name": "a", "criticality": "high"}, {"name": "b", "criticality": "low"})
    assert _plan(fleet).stages[0].hosts == ("b",)


def test_canary_ties_are_broken_by_name() -> None:
    """Equal candidates are chosen by name."""
    assert _plan(_hosts({"name": "b"}, {"name": "a"}, {"name": "c"})).stages[0].hosts == ("a",)


def test_the_canary_never_takes_more_of_a_cluster_than_its_room() -> None:
    """Canary hosts of one cluster stay held through the soak, so the whole canary respects the cluster's room."""
    fleet = _hosts(*({"name": f"mx{i}", "cluster": "mx", "cluster_budget": 1, "canary": True} for i in range(4)))
    assert len(_plan(fleet, _policy(canary={"size": 3})).stages[0].hosts) == 1


def test_the_canary_room_counts_unavailable_members() -> None:
    """A cluster allowing 2 down with 1 member down gives the canary room for 1."""
    fleet = _hosts(
        *({"name": f"mx{i}", "cluster": "mx", "cluster_budget": 2, "canary": True} for i in range(5)),
        {"name": "mx9", "cluster": "mx", "cluster_budget": 2, "unavailable": True},
    )
    assert len(_plan(fleet, _policy(canary={"size": 3})).stages[0].hosts) == 1


def test_a_percentage_canary_rounds_up_to_at_least_one() -> None:
    """5 hosts x 10% is a canary of 1, never 0."""
    assert canary_size(CanaryPolicy(size=Budget(percent=10)), 5) == 1


def test_the_canary_never_takes_every_target() -> None:
    """A count larger than the targets leaves at least one host for the waves."""
    assert canary_size(CanaryPolicy(size=Budget(count=5)), 3) == 2
    assert canary_size(CanaryPolicy(size=Budget(count=5)), 1) == 1


def test_the_canary_fills_up_to_its_size() -> None:
    """After covering the pairs, the canary takes preferred hosts up to its size."""
    fleet = _hosts(*({"name": f"h{i}"} for i in range(10)))
    assert _plan(fleet, _policy(canary={"size": "30%"})).stages[0].hosts == ("h0", "h1", "h2")


def test_a_percentage_canary_is_capped_per_os_and_service_pair() -> None:
    """50% of 40 hosts of one pair is a canary of max_per_pair hosts, not 20."""
    fleet = _hosts(*({"name": f"h{i:02d}"} for i in range(40)))
    canary = _plan(fleet, _policy(canary={"size": "50%", "max_per_pair": 3})).stages[0]
    assert canary.hosts == ("h00", "h01", "h02")


def test_the_canary_cap_is_per_pair() -> None:
    """With a cap of 2, each of two pairs of 10 hosts gives the canary two hosts."""
    smtp = ({"name": f"mx{i}", "services": ["smtp"]} for i in range(10))
    fleet = _hosts(*smtp, *({"name": f"imap{i}", "services": ["imap"]} for i in range(10)))
    canary = _plan(fleet, _policy(canary={"size": "50%", "max_per_pair": 2})).stages[0]
    assert canary.hosts == ("imap0", "imap1", "mx0", "mx1")


def test_no_canary_cap_takes_the_whole_percentage() -> None:
    """max_per_pair null leaves the size alone: 50% of 40 hosts is 20."""
    fleet = _hosts(*({"name": f"h{i:02d}"} for i in range(40)))
    assert len(_plan(fleet, _policy(canary={"size": "50%", "max_per_pair": None})).stages[0].hosts) == 20


def test_uncovered_pairs_are_warned_about() -> None:
    """A canary too small to cover every pair lists the pairs it misses."""
    fleet = _hosts({"name": "a", "services": ["smtp"]}, {"name": "b", "services": ["imap"]}, {"name": "c"})
    warnings = _plan(fleet).warnings
    assert any("does not cover 2 OS/service pairs: unknown/imap, unknown/smtp" in w for w in warnings)


def test_canary_hosts_say_what_they_cover() -> None:
    """A canary host's reason names the pairs it proves and its risk."""
    fleet = _hosts({"name": "mx1", "services": ["smtp"], "os_family": "debian", "os_version": "12"}, {"name": "b"})
    reason = _plan(fleet).planned_host("mx1").reason
    assert reason == "canary: covers debian 12/smtp; criticality medium; risk low: no rule matched (default class)"


def test_the_canary_stage_carries_the_canary_gates() -> None:
    """Soak, concurrency, approval and failure budget of the canary come from the policy's canary."""
    canary = _plan(_hosts({"name": "a"}, {"name": "b"})).stages[0]
    assert (canary.name, canary.kind, canary.soak, canary.concurrency) == (
        "canary",
        StageKind.CANARY,
        timedelta(hours=2),
        1,
    )
    assert (canary.approval_required, canary.failure_budget) == (False, 0)


# Waves and batches


def test_waves_follow_the_policy_order_with_numbered_names() -> None:
    """Waves are named wave-N-class, in the policy's order, skipping empty classes."""
    fleet = _hosts(
        {"name": "c0"},
        {"name": "a", "criticality": "critical"},
        {"name": "b", "exposure": "internet"},
        {"name": "c", "criticality": "low"},
    )
    names = [stage.name for stage in _plan(fleet).stages]
    assert names == ["canary", "wave-1-critical", "wave-2-high", "wave-3-low"]


def test_wave_hosts_explain_their_place() -> None:
    """Each wave host says its wave, risk and the rule's reason."""
    fleet = _hosts({"name": "c0"}, {"name": "mx2", "exposure": "internet", "criticality": "high"})
    assert _plan(fleet).planned_host("mx2").reason == "wave 1, risk high: exposure internet (rule 2)"


def test_an_override_is_reported_in_the_plan() -> None:
    """An inventory risk class lands the host in that wave, flagged as overridden."""
    fleet = _hosts({"name": "c0"}, {"name": "db1", "risk_class": "critical"})
    host = _plan(fleet).planned_host("db1")
    assert (host.stage, host.risk_class_overridden) == ("wave-1-critical", True)
    assert host.reason.endswith("override in inventory (patchorch_risk_class)")


def test_an_unknown_override_is_an_error_naming_the_host() -> None:
    """An override the policy does not define stops planning."""
    with pytest.raises(PlanError, match="host db1: patchorch_risk_class 'urgent'"):
        _plan(_hosts({"name": "db1", "risk_class": "urgent"}))


def test_batches_respect_the_class_concurrency() -> None:
    """A wave of 7 low hosts with concurrency 3 goes out in batches of 3, 3, 1."""
    policy = _policy(classes={"low": {"sla": "1d", "concurrency": 3}}, wave_order=["low"], rules=[])
    fleet = _hosts(*({"name": f"h{i}"} for i in range(8)))
    wave = _plan(fleet, policy, mode=Mode.REGULAR).stages[1]
    assert [len(batch.hosts) for batch in wave.batches] == [3, 3, 1]


def test_a_large_wave_gets_larger_batches_not_more() -> None:
    """100 low hosts with concurrency 2 and max_batches 10 go out in 10 batches of 10, not 50 of 2."""
    policy = _policy(classes={"low": {"sla": "1d", "concurrency": 2}}, wave_order=["low"], rules=[], max_batches=10)
    fleet = _hosts(*({"name": f"h{i:03d}"} for i in range(101)))
    wave = _plan(fleet, policy, mode=Mode.REGULAR).stages[1]
    assert ([len(batch.hosts) for batch in wave.batches], wave.concurrency) == ([10] * 10, 2)


def test_batches_respect_a_cluster_budget() -> None:
    """A cluster allowing one down contributes one member per batch."""
    fleet = _hosts({"name": "a"}, *({"name": f"mx{i}", "cluster": "mx", "cluster_budget": 1} for i in range(3)))
    wave = _plan(fleet, _policy(canary={"size": 1})).stages[1]
    for batch in wave.batches:
        assert sum(name.startswith("mx") for name in batch.hosts) <= 1


def test_unavailable_members_shrink_each_batch_room() -> None:
    """With 2 allowed down and 1 unavailable, each batch takes at most 1 member."""
    fleet = _hosts(
        {"name": "a"},
        *({"name": f"mx{i}", "cluster": "mx", "cluster_budget": 2} for i in range(4)),
        {"name": "mx9", "cluster": "mx", "cluster_budget": 2, "unavailable": True},
    )
    rollout = _plan(fleet)
    for stage in rollout.stages[1:]:
        for batch in stage.batches:
            assert sum(name.startswith("mx") for name in batch.hosts) <= 1


def test_batches_are_filled_first_fit() -> None:
    """Hosts held back by a cluster do not leave free slots unused: others fill them."""
    fleet = _hosts(
        {"name": "a0"},
        {"name": "mx1", "cluster": "mx", "cluster_budget": 1},
        {"name": "mx2", "cluster": "mx", "cluster_budget": 1},
        {"name": "z1"},
    )
    policy = _policy(canary={"size": 1})
    batches = [batch.hosts for batch in _plan(fleet, policy).stages[1].batches]
    assert batches == [("mx1", "z1"), ("mx2",)]


def test_stage_gates_come_from_the_class() -> None:
    """Soak, approval, concurrency and the stage's failure budget come from its risk class."""
    fleet = _hosts({"name": "c0"}, {"name": "a", "criticality": "critical"})
    wave = _plan(fleet).stage("wave-1-critical")
    assert (wave.soak, wave.approval_required, wave.concurrency, wave.failure_budget) == (
        timedelta(minutes=30),
        True,
        2,
        0,
    )


def test_a_percentage_stage_budget_is_taken_of_the_stage() -> None:
    """A 50% class budget over a wave of 4 tolerates 2 failures."""
    fleet = _hosts(*({"name": f"h{i}"} for i in range(5)))
    assert _plan(fleet).stage("wave-1-low").failure_budget == 2


def test_the_rollout_budget_is_taken_of_all_targets() -> None:
    """A 10% rollout budget over 20 targets tolerates 2 failures."""
    assert _plan(_hosts(*({"name": f"h{i:02}"} for i in range(20)))).failure_budget == 2


def test_due_is_the_class_sla_after_now() -> None:
    """A host's due time is planned_at plus its class's time-to-patch."""
    host = _plan(_hosts({"name": "c0"}, {"name": "a", "criticality": "critical"})).planned_host("a")
    assert host.due == NOW + timedelta(hours=24)


def test_an_earlier_kev_due_date_wins() -> None:
    """A KEV due date before the SLA target becomes the due time (end of that day, UTC)."""
    fleet = _hosts({"name": "c0"}, {"name": "a"})
    vulnerabilities = [HostVulnerability(host="a", kev_due=date(2025, 3, 6))]
    host = _plan(fleet, vulnerabilities=vulnerabilities).planned_host("a")
    assert host.due == datetime(2025, 3, 6, 23, 59, 59, 999999, tzinfo=UTC)


def test_the_sla_counts_from_the_advisorys_disclosure() -> None:
    """An advisory disclosed before planning is due its class SLA after disclosure, not after the planning time."""
    fleet = _hosts({"name": "c0"}, {"name": "a", "criticality": "critical"})
    disclosed = NOW - timedelta(hours=30)
    vulnerabilities = [HostVulnerability(host="a", disclosed=disclosed)]
    host = _plan(fleet, vulnerabilities=vulnerabilities).planned_host("a")
    assert host.due == disclosed + timedelta(hours=24)


def test_vulnerabilities_feed_the_rules() -> None:
    """A known-exploited host lands in the class its vulnerability rule assigns."""
    policy = _policy(rules=[{"class": "critical", "known_exploited": True}])
    fleet = _hosts({"name": "c0"}, {"name": "a"})
    host = _plan(fleet, policy, vulnerabilities=[HostVulnerability(host="a", known_exploited=True)]).planned_host("a")
    assert host.risk_class == "critical"


def test_two_records_for_one_host_are_refused() -> None:
    """Vulnerability input is one record per host."""
    records = [HostVulnerability(host="a"), HostVulnerability(host="a")]
    with pytest.raises(PlanError, match="two vulnerability records"):
        _plan(_hosts({"name": "a"}), vulnerabilities=records)


# Windows


def test_a_stage_starts_when_the_first_window_opens() -> None:
    """With every host windowed, the stage's earliest start is the earliest opening."""
    window = {"days": ["fri"], "start": "22:00", "duration": "2h"}
    fleet = _hosts(
        {"name": "c0", "canary": True},
        {"name": "a", "maintenance_windows": [SUNDAY_2AM]},
        {"name": "b", "maintenance_windows": [window]},
    )
    assert _plan(fleet).stage("wave-1-low").earliest_start == datetime(2025, 3, 7, 22, 0, tzinfo=UTC)


def test_a_host_without_a_window_can_start_now() -> None:
    """A stage with an unrestricted host may start at planned_at."""
    fleet = _hosts({"name": "c0"}, {"name": "a", "maintenance_windows": [SUNDAY_2AM]}, {"name": "b"})
    assert _plan(fleet).stage("wave-1-low").earliest_start == NOW


def test_an_open_window_opens_now() -> None:
    """A host inside its window at planned_at can start at once."""
    window = {"days": ["wed"], "start": "11:00", "duration": "2h"}
    host = _plan(_hosts({"name": "c0"}, {"name": "a", "maintenance_windows": [window]})).planned_host("a")
    assert host.window_opens == NOW


def test_windows_use_their_time_zone() -> None:
    """02:00 in Berlin on a March Sunday is 01:00 UTC."""
    window = dict(SUNDAY_2AM, timezone="Europe/Berlin")
    host = _plan(_hosts({"name": "c0"}, {"name": "a", "maintenance_windows": [window]})).planned_host("a")
    assert host.window_opens == datetime(2025, 3, 9, 1, 0, tzinfo=UTC)


def test_hosts_beyond_the_horizon_are_flagged_warned_and_last() -> None:
    """A window that does not open within the horizon flags the host, lists it, and puts it last in its wave."""
    policy = _policy(horizon="1d")
    fleet = _hosts({"name": "a"}, {"name": "b", "maintenance_windows": [SUNDAY_2AM]}, {"name": "c"})
    rollout = _plan(fleet, policy)
    host = rollout.planned_host("b")
    assert (host.outside_horizon, host.window_opens) == (True, None)
    assert any("(outside_horizon): b" in warning for warning in rollout.warnings)
    assert rollout.stage("wave-1-low").hosts[-1] == "b"


def test_a_stage_of_only_unreachable_windows_has_no_start() -> None:
    """When no host of a stage has a window within the horizon, its earliest start is unknown."""
    fleet = _hosts({"name": "a"}, {"name": "b", "maintenance_windows": [SUNDAY_2AM]})
    rollout = _plan(fleet, _policy(horizon="1d"))
    assert rollout.stage("wave-1-low").earliest_start is None


def test_a_window_after_the_due_time_is_warned_about() -> None:
    """A host whose window opens after its time-to-patch target is named in the warnings."""
    fleet = _hosts({"name": "c0"}, {"name": "a", "criticality": "critical", "maintenance_windows": [SUNDAY_2AM]})
    assert any("opens after the time-to-patch target: a" in w for w in _plan(fleet).warnings)


# Emergency


def test_emergency_waves_go_by_exposure_first() -> None:
    """An emergency patches internet-facing hosts before internal ones of a higher class."""
    fleet = _hosts(
        {"name": "c0"},
        {"name": "db", "criticality": "critical"},
        {"name": "web", "exposure": "internet"},
        {"name": "lan"},
    )
    names = [stage.name for stage in _plan(fleet, mode=Mode.EMERGENCY).stages]
    assert names == ["canary", "wave-1-internet-high", "wave-2-internal-critical", "wave-3-internal-low"]


def test_emergency_ignores_windows_and_says_so() -> None:
    """Emergency stages start now, hosts carry no window, and a warning says windows were ignored."""
    fleet = _hosts({"name": "a"}, {"name": "b", "maintenance_windows": [SUNDAY_2AM]})
    rollout = _plan(fleet, mode=Mode.EMERGENCY)
    assert all(stage.earliest_start == NOW for stage in rollout.stages)
    assert rollout.planned_host("b").window_opens is None
    assert rollout.warnings[0].startswith("emergency: maintenance windows are ignored (1 target host with windows)")


def test_emergency_uses_its_own_canary_and_soak() -> None:
    """The emergency canary and soak replace the regular ones; approvals stay as the class says."""
    policy = _policy(emergency={"canary": {"size": 1, "soak": "10m"}, "soak": "5m"})
    fleet = _hosts({"name": "c0"}, {"name": "a", "criticality": "critical"})
    rollout = _plan(fleet, policy, mode=Mode.EMERGENCY)
    assert rollout.stages[0].soak == timedelta(minutes=10)
    assert rollout.stages[1].soak == timedelta(minutes=5)
    assert rollout.stages[1].approval_required is True


# The plan as a value


def test_naive_now_is_refused() -> None:
    """The planning time must be timezone-aware."""
    with pytest.raises(PlanError, match="timezone-aware"):
        _plan(_hosts({"name": "a"}), now=datetime(2025, 3, 5, 12, 0))  # naive on purpose


def test_the_plan_records_its_inputs() -> None:
    """planned_at, horizon and the digests of policy and fleet are in the plan."""
    policy = _policy()
    fleet = _hosts({"name": "a"})
    rollout = _plan(fleet, policy)
    assert (rollout.planned_at, rollout.horizon) == (NOW, timedelta(days=7))
    assert (rollout.policy_digest, rollout.fleet_digest) == (policy.digest, fleet_digest(fleet))


def test_the_fleet_digest_follows_the_fleet() -> None:
    """Changing one host's metadata changes the fleet digest."""
    assert fleet_digest(_hosts({"name": "a"})) != fleet_digest(_hosts({"name": "a", "criticality": "high"}))


def test_the_plan_validates_as_its_own_model() -> None:
    """The planner's values pass the models' validation (nothing built without it is invalid)."""
    fleet = _hosts({"name": "a"}, {"name": "b", "cluster": "x"}, {"name": "c", "cluster": "x"})
    rollout = _plan(fleet)
    assert RolloutPlan.model_validate(rollout.model_dump()) == rollout


def test_the_plan_json_does_not_depend_on_the_hash_seed() -> None:
    """Two interpreters with different PYTHONHASHSEED print byte-identical plans."""
    script = (
        "from datetime import UTC, datetime\n"
        "from patchorch.domain.fleet import Fleet, Host\n"
        "from patchorch.domain.plan import Mode\n"
        "from patchorch.domain.planner import plan\n"
        "from tests.domain.test_planner import _policy\n"
        "hosts = [Host(name=f'h{i}', services=['smtp', 'imap', 'dns'][: i % 4], cluster=f'c{i % 3}',"
        " os_family='debian', defaulted=frozenset({'owner', 'criticality', 'exposure'})) for i in range(30)]\n"
        "print(plan(Fleet(hosts=hosts), _policy(), mode=Mode.REGULAR,"
        " now=datetime(2025, 3, 5, tzinfo=UTC)).canonical_json())\n"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        environment = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_planned_hosts_built_fast_equal_model_construct() -> None:
    """The planner's fast PlannedHost assembly gives what model_construct gives, field for field and in JSON."""
    from patchorch.domain.plan import PlannedHost
    from patchorch.domain.planner import _PLANNED_HOST_IS_PLAIN, _planned_host

    values: dict[str, Any] = {
        "name": "mx1",
        "stage": "canary",
        "batch": 1,
        "risk_class": "high",
        "risk_class_overridden": False,
        "reason": "canary",
        "due": NOW,
        "window_opens": None,
        "outside_horizon": False,
        "cluster": "mail",
        "windows": (),
        "owner": "mail-team <mail@example.org>",
    }
    assert _PLANNED_HOST_IS_PLAIN
    fast, slow = _planned_host(dict(values), set(values)), PlannedHost.model_construct(**values)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json() == PlannedHost.model_validate(values).model_dump_json()
    shared = set(values)
    first, second = _planned_host(dict(values), shared), _planned_host(dict(values), shared)
    assert first.model_copy(update={"batch": 2}).batch == 2
    assert second.model_fields_set == set(values)


def test_an_empty_inventory_is_reported_as_empty() -> None:
    """An inventory without hosts says so, instead of claiming that every host was excluded."""
    rollout = _plan(Fleet())
    assert rollout.stages == ()
    assert rollout.warnings == ("no targets: the inventory has no hosts, nothing to patch",)


# Safe defaults where the inventory says nothing about redundancy

# kubespray's sample: three control-plane nodes that are also the etcd members, three workers, no patchorch_* at all.
KUBESPRAY = _hosts(
    *({"name": f"node{i}", "groups": ("etcd", "k8s_cluster", "kube_control_plane")} for i in (1, 2, 3)),
    *({"name": f"node{i}", "groups": ("k8s_cluster", "kube_node")} for i in (4, 5, 6)),
)


def _batches_of(rollout: RolloutPlan) -> list[set[str]]:
    return [set(batch.hosts) for stage in rollout.stages for batch in stage.batches]


def test_quorum_members_without_a_cluster_are_patched_one_at_a_time() -> None:
    """kubespray-shaped: no batch holds two etcd/control-plane members, and the plan warns why."""
    rollout = _plan(KUBESPRAY, _policy(canary={"size": "50%", "concurrency": 3}))
    members = {"node1", "node2", "node3"}
    assert all(len(batch & members) <= 1 for batch in _batches_of(rollout))
    # The canary holds its hosts until its soak ends: at most one member across the whole canary stage.
    assert len(set(rollout.stages[0].hosts) & members) <= 1
    [warning] = [w for w in rollout.warnings if "quorum" in w]
    assert "group etcd looks like quorum members" in warning
    assert "cluster quorum:etcd+kube_control_plane, 1 down at once" in warning


def test_quorum_default_is_overridable_in_the_policy() -> None:
    """`quorum: {groups: []}` turns the default off: members may share a batch again and nothing is warned."""
    rollout = _plan(KUBESPRAY, _policy(quorum={"groups": []}))
    assert any(len(batch & {"node1", "node2", "node3"}) > 1 for batch in _batches_of(rollout))
    assert not [w for w in rollout.warnings if "quorum" in w]


def test_quorum_budget_comes_from_the_policy() -> None:
    """A policy budget of 2 lets two members down at once, never three."""
    rollout = _plan(KUBESPRAY, _policy(quorum={"budget": 2}))
    members = {"node1", "node2", "node3"}
    assert max(len(batch & members) for batch in _batches_of(rollout)) == 2


def test_a_declared_cluster_wins_over_the_quorum_default() -> None:
    """Members that declare patchorch_cluster keep their own cluster and budget, with no quorum warning."""
    fleet = _hosts(
        *({"name": f"etcd{i}", "groups": ("etcd",), "cluster": "etcd", "cluster_budget": 2} for i in (1, 2, 3)),
    )
    rollout = _plan(fleet, _policy(canary={"size": 1}))
    assert max(len(batch) for batch in _batches_of(rollout)) == 2
    assert not [w for w in rollout.warnings if "quorum" in w]


def test_the_plan_digest_names_the_declared_fleet() -> None:
    """The quorum default changes the plan, not the fleet digest: it is the inventory as declared."""
    assert _plan(KUBESPRAY).fleet_digest == fleet_digest(KUBESPRAY)


def test_peers_sharing_a_group_and_a_service_are_warned_about() -> None:
    """Unclustered hosts in one group serving the same service get a warning naming them, the group and service."""
    fleet = _hosts(
        {"name": "imap1", "groups": ("imap",), "services": ("imap",)},
        {"name": "imap2", "groups": ("imap",), "services": ("imap",)},
        {"name": "web1", "groups": ("imap",), "services": ("http",)},
    )
    warnings = [w for w in _plan(fleet).warnings if "no patchorch_cluster" in w]
    assert warnings == [
        "imap1, imap2 share group imap and service imap but no patchorch_cluster:"
        " nothing keeps them from going down together"
    ]


def test_peers_sharing_several_services_are_one_warning() -> None:
    """The same hosts sharing two services are one warning naming both services."""
    fleet = _hosts(*({"name": f"relay{i}", "groups": ("relay",), "services": ("smtp", "dns")} for i in (1, 2)))
    warnings = [w for w in _plan(fleet).warnings if "no patchorch_cluster" in w]
    assert warnings == [
        "relay1, relay2 share group relay and services dns, smtp but no patchorch_cluster:"
        " nothing keeps them from going down together"
    ]
