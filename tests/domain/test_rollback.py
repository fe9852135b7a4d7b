"""Rollback planning: what a recorded run changed, and the plan taking exactly those hosts back through the planner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchorch.domain.fleet import Fleet, Hook, Host
from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import ExclusionReason, Mode, PackageSpec, RolloutPlan, UpdateScope, UpdateSpec
from patchorch.domain.planner import plan
from patchorch.domain.policy import Policy
from patchorch.domain.rollback import RunChanges, plan_rollback, run_changes
from patchorch.domain.run import AttemptRecord, RunInputs, RunRecord, RunState
from patchorch.errors import PlanError

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
RUN = "20260305-100000-abcd"
OLD, NEW = "1.0-1", "1.0-2"


def _policy(**changes: Any) -> Policy:
    data: dict[str, Any] = {
        "classes": {
            "high": {"sla": "3d", "concurrency": 1, "soak": "1h", "failure_budget": 0, "approval": True},
            "low": {"sla": "30d", "concurrency": 10, "failure_budget": "50%"},
        },
        "wave_order": ["high", "low"],
        "rules": [{"class": "high", "exposure": "internet"}],
        "default_class": "low",
        "canary": {"size": 1, "concurrency": 1, "soak": "2h"},
    }
    data.update(changes)
    return Policy.model_validate(data)


FLEET = Fleet(
    hosts=(
        Host(name="mx1", exposure="internet", cluster="mx", services=("smtp",)),
        Host(name="mx2", exposure="internet", cluster="mx", services=("smtp",)),
        Host(name="imap1", services=("imap",)),
        Host(name="imap2", services=("imap",)),
        Host(name="web1", services=("http",)),
        Host(name="relay1", services=("smtp",)),
    )
)


def _record(*, check: bool = False, state: RunState = RunState.COMPLETED) -> RunRecord:
    return RunRecord(
        id=RUN,
        created_at=NOW - timedelta(hours=2),
        created_by="ops",
        mode=Mode.EMERGENCY,
        state=state,
        plan_hash="0" * 64,
        inputs=RunInputs(check=check),
        updated_at=NOW - timedelta(hours=1),
    )


def _attempt(
    host: str, status: HostStatus, before: dict[str, str], after: dict[str, str], **more: Any
) -> AttemptRecord:
    outcome = HostOutcome(host=host, status=status, versions_before=before, versions_after=after, **more)
    return AttemptRecord(
        run_id=RUN,
        stage="wave-1",
        batch=1,
        attempt=1,
        host=host,
        dispatched_at=NOW - timedelta(hours=2),
        status=status,
        outcome=outcome,
    )


def _source_plan(targets: Sequence[str]) -> RolloutPlan:
    """The run undone: the planner's plan of the named hosts (the others excluded as not affected)."""
    return plan(FLEET, _policy(), mode=Mode.EMERGENCY, now=NOW - timedelta(hours=2), targets=targets)


def _changes(*attempts: AttemptRecord, targets: Sequence[str] = ("mx1", "mx2", "imap1", "imap2", "web1")) -> RunChanges:
    return run_changes(_record(), _source_plan(targets), attempts)


UPGRADED = {"acme-mta": OLD}, {"acme-mta": NEW}


def _typical() -> RunChanges:
    return _changes(
        _attempt("mx1", HostStatus.PATCHED, *UPGRADED),
        _attempt("mx2", HostStatus.PATCHED, *UPGRADED),
        _attempt("imap1", HostStatus.PATCHED, *UPGRADED),
        _attempt("imap2", HostStatus.UNCHANGED, {"acme-mta": NEW}, {"acme-mta": NEW}),
        _attempt("web1", HostStatus.FAILED, {}, {}, failed_step="precheck"),
    )


def _rollback(changes: RunChanges, **options: Any) -> RolloutPlan:
    options.setdefault("mode", Mode.EMERGENCY)
    return plan_rollback(FLEET, _policy(), changes, now=NOW, **options)


def test_a_host_whose_versions_moved_is_changed_with_its_versions_before() -> None:
    """The versions before come from the first attempt, after from the last: retries do not hide the start."""
    retried = _attempt("mx1", HostStatus.PATCHED, {"acme-mta": NEW}, {"acme-mta": NEW}).model_copy(
        update={"attempt": 2}
    )
    changes = _changes(_attempt("mx1", HostStatus.FAILED, {"acme-mta": OLD}, {"acme-mta": NEW}), retried)
    assert changes.changed["mx1"].downgrade == (PackageSpec(name="acme-mta", version=OLD),)


def test_a_failed_host_that_was_changed_half_way_is_changed() -> None:
    """What a failure left behind counts: a host failed after its upgrade goes back too."""
    changes = _changes(_attempt("mx1", HostStatus.FAILED, *UPGRADED, failed_step="post-check"))
    assert list(changes.changed) == ["mx1"]


def test_hosts_left_alone_say_why() -> None:
    """Unchanged, failed before any version was read, never dispatched, or left out by the run's plan."""
    changes = _typical()
    assert sorted(changes.changed) == ["imap1", "mx1", "mx2"]
    assert changes.not_changed == {"imap2": f"run {RUN} did not change its packages (acme-mta {NEW})"}
    assert changes.not_patched["web1"] == f"run {RUN} recorded no versions of it (failed at precheck)"
    assert changes.not_patched["relay1"].startswith(f"run {RUN} left it out (not-affected: ")


def test_a_target_never_dispatched_is_not_patched() -> None:
    """A halted run's later hosts were never dispatched: nothing to undo there."""
    changes = _changes(_attempt("mx1", HostStatus.PATCHED, *UPGRADED))
    assert changes.not_patched["imap1"] == f"run {RUN} never dispatched it"


def test_a_check_mode_run_changed_nothing() -> None:
    """A rehearsal installed nothing, whatever its outcomes say would change."""
    changes = run_changes(_record(check=True), _source_plan(["mx1"]), [_attempt("mx1", HostStatus.PATCHED, *UPGRADED)])
    assert (changes.changed, list(changes.not_changed)) == ({}, ["mx1"])


def test_a_running_run_cannot_be_rolled_back() -> None:
    """A run still running may change more: refused."""
    with pytest.raises(PlanError, match="is running"):
        run_changes(_record(state=RunState.RUNNING), _source_plan(["mx1"]), [])


def test_the_rollback_targets_exactly_the_changed_hosts_with_their_versions() -> None:
    """Each target goes back to its own versions before; the plan names the run it undoes."""
    rollback = _rollback(_typical())
    assert sorted(rollback.targets) == ["imap1", "mx1", "mx2"]
    assert rollback.update == UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of=RUN)
    assert {s.host: s.downgrade for s in rollback.host_settings} == dict.fromkeys(
        ["imap1", "mx1", "mx2"], (PackageSpec(name="acme-mta", version=OLD),)
    )
    assert rollback.planned_host("mx1").reason.endswith(f"; back: acme-mta {NEW} -> {OLD}")


def test_the_rollback_is_staged_like_any_plan_of_those_hosts() -> None:
    """Canary, waves, batches under the cluster budget and approvals come from the planner, unchanged."""
    rollback = _rollback(_typical())
    same = plan(FLEET, _policy(), mode=Mode.EMERGENCY, now=NOW, targets=["imap1", "mx1", "mx2"])
    assert rollback.stages == same.stages
    assert rollback.stages[0].name == "canary"
    assert any(stage.approval_required for stage in rollback.stages)
    assert all(sum(h.startswith("mx") for h in batch.hosts) <= 1 for s in rollback.stages for batch in s.batches)


def test_hosts_left_alone_are_excluded_with_the_reason() -> None:
    """The plan says why each other host is not touched."""
    reasons = {e.host: (e.reason, e.detail) for e in _rollback(_typical()).exclusions}
    assert reasons["imap2"][0] is ExclusionReason.NOT_CHANGED
    assert reasons["web1"] == (
        ExclusionReason.NOT_PATCHED,
        f"run {RUN} recorded no versions of it (failed at precheck)",
    )
    assert reasons["relay1"][0] is ExclusionReason.NOT_PATCHED


def test_hooks_stay_with_the_rollback_versions() -> None:
    """A host's snapshot and drain hooks apply to its rollback as to any update."""
    snapshot = Hook(commands=(("lvcreate", "-s", "vg/root"),))
    fleet = Fleet(hosts=tuple(h.model_copy(update={"snapshot_hook": snapshot}) for h in FLEET.hosts))
    rollback = plan_rollback(fleet, _policy(), _typical(), mode=Mode.EMERGENCY, now=NOW)
    assert rollback.settings_of("mx1").snapshot_hook == snapshot
    assert rollback.settings_of("mx1").downgrade == (PackageSpec(name="acme-mta", version=OLD),)


def test_hosts_narrow_the_rollback() -> None:
    """Hosts outside --hosts stay where they are, excluded as outside the limit."""
    rollback = _rollback(_typical(), in_limit={"mx1", "imap2"}, limit="mx1:imap2")
    assert rollback.targets == ("mx1",)
    assert {e.host: e.reason for e in rollback.exclusions}["mx2"] is ExclusionReason.OUTSIDE_LIMIT


@pytest.mark.parametrize(
    ("in_limit", "says"),
    [
        (set(), "--hosts nomatch matches none of the hosts of run"),
        ({"imap2", "web1"}, "--hosts nomatch matches only hosts run .* did not change: nothing to undo"),
    ],
)
def test_hosts_matching_nothing_to_undo_is_refused(in_limit: set[str], says: str) -> None:
    """A pattern matching no host of the run, or only hosts it did not change, is bad input."""
    with pytest.raises(PlanError, match=says):
        _rollback(_typical(), in_limit=in_limit, limit="nomatch")


def test_a_run_that_changed_nothing_is_refused() -> None:
    """Nothing to undo is bad input, with an example of why."""
    changes = _changes(_attempt("imap2", HostStatus.UNCHANGED, {"acme-mta": NEW}, {"acme-mta": NEW}))
    with pytest.raises(PlanError, match=f"run {RUN} changed no host's packages: nothing to undo"):
        _rollback(changes)


def test_changed_hosts_gone_from_the_inventory_are_warned_about() -> None:
    """A changed host the inventory no longer has is named, not silently dropped."""
    rollback = plan_rollback(FLEET.subset(["mx1", "mx2", "imap2"]), _policy(), _typical(), mode=Mode.EMERGENCY, now=NOW)
    assert sorted(rollback.targets) == ["mx1", "mx2"]
    assert any("not in the inventory and are not rolled back: imap1" in w for w in rollback.warnings)


def test_a_rollback_plan_survives_its_json() -> None:
    """The stored plan reads back equal, its hash verified."""
    rollback = _rollback(_typical())
    assert RolloutPlan.from_json(rollback.canonical_json()) == rollback


def test_plans_without_rollback_or_snapshot_keep_their_json() -> None:
    """The new fields are left out of other plans' JSON, so their bytes and hashes stay what they were."""
    text = _source_plan(["mx1"]).canonical_json()
    assert "rollback_of" not in text
    assert "snapshot_hook" not in text
    assert "downgrade" not in text


def test_only_a_rollback_names_a_run_to_undo() -> None:
    """A rollback without its run, or another scope with one, is refused."""
    with pytest.raises(ValueError, match="names the run it undoes"):
        UpdateSpec(scope=UpdateScope.ROLLBACK)
    with pytest.raises(ValueError, match="names the run it undoes"):
        UpdateSpec(scope=UpdateScope.PACKAGES, rollback_of=RUN)
