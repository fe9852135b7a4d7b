"""The compliance report's data model: SLA, time to patch, standing list, decommissioned hosts, rehearsals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from patchorch.domain.compliance import (
    AdvisoryDates,
    AuditState,
    FactsFinding,
    ReportInputs,
    RunEvidence,
    StandingStatus,
    build_report,
)
from patchorch.domain.fleet import Host, Lifecycle, Owner
from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import Batch, Mode, PlannedHost, RolloutPlan, Stage, StageKind, UpdateScope, UpdateSpec
from patchorch.domain.run import (
    ApprovalRecord,
    AttemptRecord,
    RunInputs,
    RunKind,
    RunRecord,
    RunState,
    StageRecord,
    StageState,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
INTACT = AuditState(intact=True, records=10)
MAIL = Owner(team="mail-platform", contact="mail@example.org")


def _plan(hosts: dict[str, tuple[str, timedelta]], advisory: str | None = None) -> RolloutPlan:
    """One wave with every host; `hosts` maps name -> (risk class, SLA from T0)."""
    names = tuple(hosts)
    return RolloutPlan(
        mode=Mode.REGULAR,
        planned_at=T0,
        failure_budget=1,
        update=UpdateSpec(advisory=advisory),
        stages=(
            Stage(name="wave-1", kind=StageKind.WAVE, index=1, batches=(Batch(index=1, hosts=names),), concurrency=5),
        ),
        hosts=tuple(
            PlannedHost(name=n, stage="wave-1", batch=1, risk_class=c, reason="test", due=T0 + sla)
            for n, (c, sla) in hosts.items()
        ),
    )


def _run(
    run_id: str,
    plan: RolloutPlan,
    outcomes: dict[str, tuple[HostStatus | None, timedelta]],
    *,
    check: bool = False,
    state: RunState = RunState.COMPLETED,
    created: datetime = T0,
    approvals: tuple[ApprovalRecord, ...] = (),
    advisory: str | None = None,
) -> RunEvidence:
    """A run of `plan` whose hosts ended with `outcomes` (status, finished this long after `created`)."""
    attempts = tuple(
        AttemptRecord(
            run_id=run_id,
            stage="wave-1",
            batch=1,
            attempt=1,
            host=host,
            dispatched_at=created,
            status=status,
            outcome=None if status is None else HostOutcome(host=host, status=status, check_mode=check),
            finished_at=None if status is None else created + after,
        )
        for host, (status, after) in outcomes.items()
    )
    finished = max((a.finished_at for a in attempts if a.finished_at), default=created)
    return RunEvidence(
        run=RunRecord(
            id=run_id,
            created_at=created,
            created_by="ops@bastion",
            mode=plan.mode,
            state=state,
            plan_hash=plan.content_hash,
            inputs=RunInputs(check=check, advisory=advisory),
            updated_at=finished,
        ),
        plan=plan,
        stages=(
            StageRecord(
                run_id=run_id,
                name="wave-1",
                index=1,
                state=StageState.COMPLETED,
                started_at=created,
                finished_at=finished,
            ),
        ),
        attempts=attempts,
        approvals=approvals,
    )


def _inputs(*runs: RunEvidence, **fields: object) -> ReportInputs:
    values: dict[str, object] = {"generated_at": T0 + timedelta(days=3), "audit": INTACT, "runs": runs}
    values.update(fields)
    return ReportInputs.model_validate(values)


def test_hosts_patched_after_their_due_time_count_as_late_per_class() -> None:
    """A host patched before its plan's due time is within its SLA; one patched after it is late, per class."""
    plan = _plan(
        {"mx1": ("high", timedelta(hours=1)), "mx2": ("high", timedelta(hours=1)), "web1": ("low", timedelta(days=7))}
    )
    run = _run(
        "r1",
        plan,
        {
            "mx1": (HostStatus.PATCHED, timedelta(minutes=30)),
            "mx2": (HostStatus.PATCHED, timedelta(hours=2)),
            "web1": (HostStatus.UNCHANGED, timedelta(hours=2)),
        },
    )
    report = build_report(_inputs(run), class_order=["high", "low"])
    by_class = {c.risk_class: c for c in report.sla}
    assert [c.risk_class for c in report.sla] == ["high", "low"]
    assert (by_class["high"].within, by_class["high"].late) == (1, 1)
    assert (by_class["low"].within, by_class["low"].late) == (1, 0)
    assert [h.host for h in by_class["high"].hosts if h.late] == ["mx2"]
    assert (report.totals.patched_within_sla, report.totals.patched_late) == (2, 1)


def test_unpatched_target_past_its_due_time_counts_as_overdue() -> None:
    """A target of a halted run that was never patched and whose due time has passed is overdue in its class."""
    plan = _plan({"mx1": ("high", timedelta(hours=1)), "mx2": ("high", timedelta(hours=1))})
    run = _run("r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=5))}, state=RunState.HALTED)
    report = build_report(_inputs(run))
    assert report.sla[0].overdue_unpatched == 1
    assert report.totals.overdue_unpatched == 1


def test_rehearsals_never_count_as_patching_and_are_listed_with_their_duration() -> None:
    """A check-mode run's 'patched' hosts are not patched: no SLA entry, but a rehearsal with its times."""
    plan = _plan({"mx1": ("high", timedelta(hours=1))})
    rehearsal = _run("r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=4))}, check=True)
    report = build_report(_inputs(rehearsal))
    assert report.sla == ()
    assert report.totals.runs == 0
    assert [(r.run, r.hosts, r.duration_seconds) for r in report.rehearsals] == [("r1", 1, 240.0)]
    assert report.drills == ()
    assert "patchorch drill" in report.drills_note


def test_a_drill_counts_as_a_drill_never_as_a_rehearsal_or_patching() -> None:
    """A drill's run is listed and counted among the drills (in the JSON), not the rehearsals, and patches nothing."""
    plan = _plan({"mx1": ("high", timedelta(hours=1))})
    rehearsal = _run("r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=4))}, check=True)
    drill = _run("d1", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=3))}, check=True)
    drill = drill.model_copy(
        update={"run": drill.run.model_copy(update={"inputs": RunInputs(check=True, kind=RunKind.DRILL)})}
    )
    data = build_report(_inputs(rehearsal, drill)).model_dump(mode="json")
    assert (data["totals"]["runs"], data["totals"]["rehearsals"], data["totals"]["drills"]) == (0, 1, 1)
    assert [(d["run"], d["duration_seconds"]) for d in data["drills"]] == [("d1", 180.0)]
    assert [r["run"] for r in data["rehearsals"]] == ["r1"]
    assert data["sla"] == []


def test_time_to_patch_runs_from_publication_and_import_to_the_last_target() -> None:
    """Hours from publication and from import end when the last target of the advisory's runs was patched."""
    plan = _plan({"mx1": ("high", timedelta(days=1)), "mx2": ("high", timedelta(days=1))}, advisory="WID-1")
    run = _run(
        "r1",
        plan,
        {"mx1": (HostStatus.PATCHED, timedelta(hours=1)), "mx2": (HostStatus.PATCHED, timedelta(hours=3))},
        advisory="WID-1",
    )
    advisory = AdvisoryDates(
        id="WID-1", title="acme-mta", published=T0 - timedelta(hours=21), imported_at=T0 - timedelta(hours=1)
    )
    report = build_report(_inputs(run, advisories=(advisory,)))
    [entry] = report.time_to_patch
    assert (entry.hours_from_publication, entry.hours_from_import) == (24.0, 4.0)
    assert (entry.targets, entry.patched, entry.complete) == (2, 2, True)


def test_time_to_patch_of_an_advisory_with_unpatched_targets_is_open() -> None:
    """While a target is unpatched the advisory's time to patch is not complete."""
    plan = _plan({"mx1": ("high", timedelta(days=1)), "mx2": ("high", timedelta(days=1))}, advisory="CVE-2026-1")
    run = _run(
        "r1",
        plan,
        {"mx1": (HostStatus.PATCHED, timedelta(hours=1)), "mx2": (HostStatus.FAILED, timedelta(hours=1))},
        advisory="CVE-2026-1",
    )
    advisory = AdvisoryDates(id="WID-1", cves=("CVE-2026-1",), published=T0, imported_at=T0)
    [entry] = build_report(_inputs(run, advisories=(advisory,))).time_to_patch
    assert (entry.patched, entry.targets, entry.complete) == (1, 2, False)
    assert entry.published == T0  # found by its CVE


def test_standing_list_names_failed_unreachable_and_undispatched_hosts_with_owner_and_due() -> None:
    """Failed, unreachable, outcome-less and not yet dispatched targets are standing, with owner and due date."""
    plan = _plan({h: ("high", timedelta(days=1)) for h in ("mx1", "mx2", "mx3", "mx4", "mx5")})
    run = _run(
        "r1",
        plan,
        {
            "mx1": (HostStatus.PATCHED, timedelta(minutes=1)),
            "mx2": (HostStatus.FAILED, timedelta(minutes=1)),
            "mx3": (HostStatus.UNREACHABLE, timedelta(minutes=1)),
            "mx4": (None, timedelta(0)),
        },
        state=RunState.HALTED,
    )
    hosts = tuple(Host(name=h, owner=MAIL) for h in ("mx1", "mx2", "mx3", "mx4", "mx5"))
    report = build_report(_inputs(run, hosts=hosts, inventory_given=True))
    standing = {s.host: s for s in report.standing}
    assert {h: s.status for h, s in standing.items()} == {
        "mx2": StandingStatus.FAILED,
        "mx3": StandingStatus.UNREACHABLE,
        "mx4": StandingStatus.UNKNOWN,
        "mx5": StandingStatus.UNPATCHED,
    }
    assert all(s.owner_team == "mail-platform" and s.due == date(2026, 11, 3) for s in standing.values())
    assert report.totals.standing == {"unpatched": 1, "failed": 1, "unreachable": 1, "unknown": 1}


def test_newer_package_facts_outweigh_an_older_run_and_the_other_way_round() -> None:
    """Facts gathered after a host was patched that show it affected make it unpatched; older facts do not."""
    plan = _plan({"mx1": ("high", timedelta(days=1)), "mx2": ("high", timedelta(days=1))})
    run = _run(
        "r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(hours=1)), "mx2": (HostStatus.PATCHED, timedelta(hours=1))}
    )
    findings = (
        FactsFinding(
            host="mx1", status="affected", advisory="WID-2", due=date(2026, 11, 9), gathered_at=T0 + timedelta(hours=5)
        ),
        FactsFinding(
            host="mx2", status="affected", advisory="WID-1", due=date(2026, 11, 2), gathered_at=T0 - timedelta(hours=5)
        ),
    )
    hosts = (Host(name="mx1", owner=MAIL), Host(name="mx2", owner=MAIL))
    report = build_report(_inputs(run, findings=findings, hosts=hosts, inventory_given=True))
    assert [(s.host, s.status, s.due) for s in report.standing] == [
        ("mx1", StandingStatus.UNPATCHED, date(2026, 11, 9))
    ]
    assert "WID-2" in report.standing[0].evidence


def test_hosts_without_facts_or_runs_are_unknown_and_decommissioned_or_excluded_ones_are_not_standing() -> None:
    """Unknown exposure is standing as unknown; decommissioned and excluded hosts never are."""
    hosts = (
        Host(name="mx1", owner=MAIL),
        Host(name="old1", lifecycle=Lifecycle.DECOMMISSIONED),
        Host(name="lab1", exclude=True),
    )
    findings = tuple(FactsFinding(host=h.name, status="unknown", reason="no package facts") for h in hosts)
    report = build_report(_inputs(findings=findings, hosts=hosts, inventory_given=True))
    assert [(s.host, s.status, s.evidence) for s in report.standing] == [
        ("mx1", StandingStatus.UNKNOWN, "no package facts")
    ]


def test_decommissioned_host_answering_is_known_from_facts_or_a_reaching_attempt() -> None:
    """A decommissioned host with gathered facts or a non-unreachable attempt is listed with how that is known."""
    plan = _plan({"old2": ("low", timedelta(days=7)), "old3": ("low", timedelta(days=7))})
    run = _run(
        "r1",
        plan,
        {"old2": (HostStatus.PATCHED, timedelta(hours=2)), "old3": (HostStatus.UNREACHABLE, timedelta(hours=2))},
    )
    hosts = tuple(
        Host(name=n, lifecycle=Lifecycle.DECOMMISSIONED, owner=MAIL) for n in ("old1", "old2", "old3", "old4")
    )
    report = build_report(_inputs(run, hosts=hosts, inventory_given=True, facts_gathered={"old1": T0}))
    answering = {d.host: d for d in report.decommissioned_answering}
    assert sorted(answering) == ["old1", "old2"]
    assert "package facts gathered" in answering["old1"].evidence
    assert "Ansible reached it in run r1" in answering["old2"].evidence
    assert answering["old2"].last_answered == T0 + timedelta(hours=2)
    assert answering["old1"].owner_team == "mail-platform"


def test_since_limits_the_period_sections_but_not_the_standing_list() -> None:
    """Runs created before --since leave SLA, approvals and rehearsals; their failed hosts stay standing."""
    plan = _plan({"mx1": ("high", timedelta(days=1)), "mx2": ("high", timedelta(days=1))})
    approval = ApprovalRecord(run_id="old", stage="wave-1", approver="lead@bastion", at=T0, comment="CHG-1")
    old = _run(
        "old",
        plan,
        {"mx1": (HostStatus.PATCHED, timedelta(hours=1)), "mx2": (HostStatus.FAILED, timedelta(hours=1))},
        approvals=(approval,),
    )
    new_plan = _plan({"mx1": ("high", timedelta(days=3))})
    new = _run("new", new_plan, {"mx1": (HostStatus.UNCHANGED, timedelta(hours=1))}, created=T0 + timedelta(days=2))
    everything = build_report(_inputs(old, new))
    recent = build_report(_inputs(old, new, since=T0 + timedelta(days=1)))
    assert [(a.run, a.approver, a.comment) for a in everything.approvals] == [("old", "lead@bastion", "CHG-1")]
    assert recent.approvals == ()
    assert (everything.totals.runs, recent.totals.runs) == (2, 1)
    assert recent.totals.patched_within_sla == 1
    assert [(s.host, s.status) for s in recent.standing] == [("mx2", StandingStatus.FAILED)]


def test_a_broken_audit_chain_is_carried_into_the_report() -> None:
    """The audit chain's state as verified is part of the report."""
    broken = AuditState(intact=False, records=7, problem="audit record 3 was altered", first_bad_record=3)
    report = build_report(_inputs(audit=broken))
    assert report.audit == broken


def test_a_target_patched_by_a_later_run_is_not_overdue() -> None:
    """A host that failed in one run and was patched by a later one is not counted overdue for the first."""
    plan = _plan({"mx1": ("high", timedelta(hours=1))})
    first = _run("r1", plan, {"mx1": (HostStatus.FAILED, timedelta(minutes=5))})
    second = _run("r2", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=5))}, created=T0 + timedelta(hours=3))
    report = build_report(_inputs(first, second))
    assert report.totals.overdue_unpatched == 0
    assert report.totals.patched_late == 1  # r2 patched it after its due time
    assert report.standing == ()


def test_a_rollback_patches_nothing_and_leaves_its_hosts_unpatched() -> None:
    """Hosts a rollback took back stand unpatched again; the rollback counts in no SLA row."""
    plan = _plan({"mx1": ("high", timedelta(days=1))})
    rollout = _run("r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(minutes=5))})
    back = plan.model_copy(update={"update": UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of="r1")})
    rollback = _run("r2", back, {"mx1": (HostStatus.PATCHED, timedelta(minutes=5))}, created=T0 + timedelta(hours=1))
    report = build_report(_inputs(rollout, rollback, hosts=(Host(name="mx1", owner=MAIL),), inventory_given=True))
    [standing] = report.standing
    assert (standing.host, standing.status, standing.evidence) == (
        "mx1",
        StandingStatus.UNPATCHED,
        "rolled back by run r2",
    )
    assert [h.run for row in report.sla for h in row.hosts] == ["r1"]
