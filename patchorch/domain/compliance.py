"""The compliance report's data model, computed from records by pure functions.

`build_report(ReportInputs)` turns what the stores hold (runs with their frozen plans, attempts, stages and
approvals; advisories with their publication and import times; the inventory; package facts and what exposure found
in them; the audit chain's state) into a `ComplianceReport`: SLA compliance per risk class, time to patch per
advisory, the standing list of hosts that need someone, decommissioned hosts that still answer, approvals, rehearsals
and the audit chain. Nothing here reads a file, a clock or a database: the caller gathers the inputs.

Rules, each in one place:

- A rehearsal is a run recorded in check mode (`RunInputs.check`): it installs nothing, so it never counts as
  patching a host; it is listed with its times instead. A drill (`patchorch drill`, run kind `drill`) is a
  rehearsal too, listed among the drills rather than the rehearsals.
- A host is patched within its SLA when its first successful attempt of a run finished no later than the due time the
  plan recorded for it (`patchorch.domain.due`: disclosure, else planning time, plus the risk class's SLA, or the KEV
  due date if earlier).
  A target past its due time that neither its run nor any later real run patched is overdue.
- Time to patch of an advisory runs from its publication (and from its import) to the moment the last target of the
  rollouts for it was patched; it is `complete` only once every target is.
- A rollback (`patchorch rollback`) patches nothing: it counts in no SLA or time to patch, and a host it took back
  stands unpatched again ("rolled back by run X") until a later run patches it.
- A host's standing status comes from its newest evidence: its latest attempt in a real run, or the package facts
  exposure matched (whichever is newer). Hosts whose newest evidence is success or "not affected" are not listed.
- A decommissioned host still answers when the store has evidence it answered after all: package facts gathered
  from it, or an Ansible attempt that reached it (any outcome but unreachable). The newest such time is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from patchorch.domain.eligibility import left_alone
from patchorch.domain.fleet import Host, Lifecycle, owner_fields
from patchorch.domain.outcomes import HostStatus
from patchorch.domain.plan import RolloutPlan, UpdateScope
from patchorch.domain.run import ApprovalRecord, AttemptRecord, RunRecord, RunState, StageRecord

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DRILLS_NOTE = (
    "Drills are runs of `patchorch drill`: the whole path in check mode on the real hosts, never counted as "
    "patching. Their durations are on the drill's clock: soaks and windows it skipped count as if waited. "
    "Rehearsals below are other check-mode runs (`rollout --check`)."
)


# --- inputs ------------------------------------------------------------------------------------------------------


class RunEvidence(BaseModel):
    """One recorded run with everything the store keeps about it."""

    model_config = _FROZEN

    run: RunRecord
    plan: RolloutPlan
    stages: tuple[StageRecord, ...] = ()
    attempts: tuple[AttemptRecord, ...] = ()
    approvals: tuple[ApprovalRecord, ...] = ()

    @property
    def rehearsal(self) -> bool:
        """Recorded in check mode: nothing was installed."""
        return self.run.inputs.check

    @property
    def drill(self) -> bool:
        """A run of `patchorch drill`."""
        return self.run.inputs.drill

    @property
    def rollback(self) -> bool:
        """A run of `patchorch rollback`: it takes hosts back to earlier versions, it never patches them."""
        return self.plan.update.scope is UpdateScope.ROLLBACK

    @property
    def advisory(self) -> str | None:
        """The advisory (ID or CVE) the run patched, if it was started for one."""
        return self.run.inputs.advisory or self.plan.update.advisory


class AdvisoryDates(BaseModel):
    """An imported advisory and the two times its time to patch is measured from."""

    model_config = _FROZEN

    id: str
    title: str = ""
    cves: tuple[str, ...] = ()
    published: datetime | None = None
    imported_at: datetime


class FactsFinding(BaseModel):
    """What exposure says of one host from its package facts (one row per affecting advisory, or one row)."""

    model_config = _FROZEN

    host: str
    status: Literal["affected", "unknown", "not-affected"]
    advisory: str | None = None
    due: date | None = None
    gathered_at: datetime | None = None
    reason: str = ""


class AuditState(BaseModel):
    """The audit chain as `verify_audit` found it."""

    model_config = _FROZEN

    intact: bool
    records: int = Field(ge=0)
    problem: str = ""
    first_bad_record: int | None = None


class ReportInputs(BaseModel):
    """Everything a report is computed from, gathered by the caller at `generated_at`."""

    model_config = _FROZEN

    generated_at: datetime
    since: datetime | None = None
    runs: tuple[RunEvidence, ...] = ()
    advisories: tuple[AdvisoryDates, ...] = ()
    # The inventory's hosts; empty when no inventory was given (owners and decommissioned hosts are then unknown).
    hosts: tuple[Host, ...] = ()
    inventory_given: bool = False
    facts_gathered: Mapping[str, datetime] = Field(default_factory=dict)
    findings: tuple[FactsFinding, ...] = ()
    audit: AuditState


# --- the report --------------------------------------------------------------------------------------------------


class SlaHost(BaseModel):
    """One host patched by one run: when, by when it was due, and whether that was late."""

    model_config = _FROZEN

    host: str
    risk_class: str
    run: str
    patched_at: datetime
    due: datetime | None
    late: bool


class SlaClass(BaseModel):
    """Per risk class: hosts patched within their SLA, late ones, and targets still unpatched past their due time."""

    model_config = _FROZEN

    risk_class: str
    within: int
    late: int
    overdue_unpatched: int
    hosts: tuple[SlaHost, ...] = ()


class AdvisoryTimeToPatch(BaseModel):
    """How long an advisory took to patch: from publication and from import to the last target patched."""

    model_config = _FROZEN

    advisory: str
    title: str = ""
    published: datetime | None = None
    imported_at: datetime | None = None
    runs: tuple[str, ...]
    targets: int
    patched: int
    last_patched_at: datetime | None = None
    hours_from_publication: float | None = None
    hours_from_import: float | None = None
    complete: bool


class StandingStatus(StrEnum):
    """Why a host is on the standing list."""

    UNPATCHED = "unpatched"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


class StandingHost(BaseModel):
    """A host that needs someone: its status, owner, due date and the evidence the status rests on."""

    model_config = _FROZEN

    host: str
    status: StandingStatus
    owner_team: str | None = None
    owner_contact: str | None = None
    due: date | None = None
    evidence: str
    run: str | None = None
    as_of: datetime | None = None


class DecommissionedAnswer(BaseModel):
    """A decommissioned host the store shows answering, and how that is known."""

    model_config = _FROZEN

    host: str
    owner_team: str | None = None
    owner_contact: str | None = None
    last_answered: datetime
    evidence: str


class ApprovalEntry(BaseModel):
    """Who approved which stage of which run, and when."""

    model_config = _FROZEN

    run: str
    stage: str
    approver: str
    at: datetime
    comment: str = ""


class Rehearsal(BaseModel):
    """A run recorded in check mode: what it rehearsed and how long it took."""

    model_config = _FROZEN

    run: str
    created_at: datetime
    created_by: str
    mode: str
    state: str
    hosts: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None


class ReportTotals(BaseModel):
    """The headline counts."""

    model_config = _FROZEN

    runs: int
    rehearsals: int
    drills: int = 0
    patched_within_sla: int
    patched_late: int
    overdue_unpatched: int
    standing: dict[str, int]
    decommissioned_answering: int
    approvals: int


class ComplianceReport(BaseModel):
    """The compliance report: one value, rendered as HTML, JSON and CSV."""

    model_config = _FROZEN

    generated_at: datetime
    since: datetime | None = None
    inventory_given: bool
    totals: ReportTotals
    sla: tuple[SlaClass, ...] = ()
    time_to_patch: tuple[AdvisoryTimeToPatch, ...] = ()
    standing: tuple[StandingHost, ...] = ()
    decommissioned_answering: tuple[DecommissionedAnswer, ...] = ()
    approvals: tuple[ApprovalEntry, ...] = ()
    rehearsals: tuple[Rehearsal, ...] = ()
    drills: tuple[Rehearsal, ...] = ()
    drills_note: str = DRILLS_NOTE
    audit: AuditState


# --- computing it ------------------------------------------------------------------------------------------------


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 2)


def _attempt_time(attempt: AttemptRecord) -> datetime:
    return attempt.finished_at or attempt.dispatched_at


def first_patched(evidence: RunEvidence) -> dict[str, datetime]:
    """When each host of a run was first patched (or found up to date) by it."""
    result: dict[str, datetime] = {}
    for attempt in evidence.attempts:
        if attempt.status is not None and attempt.status.is_success:
            at = _attempt_time(attempt)
            if attempt.host not in result or at < result[attempt.host]:
                result[attempt.host] = at
    return result


def _latest_attempts(evidence: RunEvidence) -> dict[str, AttemptRecord]:
    latest: dict[str, AttemptRecord] = {}
    for attempt in evidence.attempts:  # the store returns attempts in dispatch order
        latest[attempt.host] = attempt
    return latest


def _in_period(evidence: RunEvidence, since: datetime | None) -> bool:
    return since is None or evidence.run.created_at >= since


def _planned_due(plan: RolloutPlan, host: str) -> tuple[str, datetime | None]:
    try:
        planned = plan.planned_host(host)
    except KeyError:
        return "unclassified", None
    return planned.risk_class, planned.due


def _sla(
    runs: Iterable[RunEvidence], every_real_run: Iterable[RunEvidence], now: datetime, class_order: Iterable[str]
) -> tuple[SlaClass, ...]:
    hosts: dict[str, list[SlaHost]] = {}
    overdue: dict[str, int] = {}
    successes: dict[str, list[datetime]] = {}
    for evidence in every_real_run:
        for host, at in first_patched(evidence).items():
            successes.setdefault(host, []).append(at)
    for evidence in runs:
        patched = first_patched(evidence)
        for host in evidence.plan.targets:
            risk_class, due = _planned_due(evidence.plan, host)
            hosts.setdefault(risk_class, [])
            overdue.setdefault(risk_class, 0)
            if host in patched:
                at = patched[host]
                late = due is not None and at > due
                hosts[risk_class].append(
                    SlaHost(host=host, risk_class=risk_class, run=evidence.run.id, patched_at=at, due=due, late=late)
                )
            elif (
                evidence.run.state is not RunState.ABORTED
                and due is not None
                and due < now
                and not any(at >= evidence.run.created_at for at in successes.get(host, ()))
            ):
                overdue[risk_class] += 1  # not patched by this run nor by any later one
    order = {name: rank for rank, name in enumerate(class_order)}
    return tuple(
        SlaClass(
            risk_class=name,
            within=sum(1 for h in hosts[name] if not h.late),
            late=sum(1 for h in hosts[name] if h.late),
            overdue_unpatched=overdue[name],
            hosts=tuple(sorted(hosts[name], key=lambda h: (h.patched_at, h.host))),
        )
        for name in sorted(hosts, key=lambda n: (order.get(n, len(order)), n))
    )


def _advisory_dates(advisories: Iterable[AdvisoryDates], wanted: str) -> AdvisoryDates | None:
    candidates = list(advisories)
    for advisory in candidates:
        if advisory.id == wanted:
            return advisory
    for advisory in candidates:
        if wanted in advisory.cves:
            return advisory
    return None


def _time_to_patch(
    runs: Iterable[RunEvidence], advisories: tuple[AdvisoryDates, ...]
) -> tuple[AdvisoryTimeToPatch, ...]:
    by_advisory: dict[str, list[RunEvidence]] = {}
    for evidence in runs:
        if evidence.advisory is not None:
            by_advisory.setdefault(evidence.advisory, []).append(evidence)
    result = []
    for name in sorted(by_advisory):
        group = by_advisory[name]
        targets = {host for evidence in group for host in evidence.plan.targets}
        patched: dict[str, datetime] = {}
        for evidence in group:
            for host, at in first_patched(evidence).items():
                patched[host] = min(at, patched.get(host, at))
        last = max(patched.values()) if patched else None
        dates = _advisory_dates(advisories, name)
        published = dates.published if dates else None
        imported = dates.imported_at if dates else None
        result.append(
            AdvisoryTimeToPatch(
                advisory=name,
                title=dates.title if dates else "",
                published=published,
                imported_at=imported,
                runs=tuple(evidence.run.id for evidence in group),
                targets=len(targets),
                patched=len(targets & patched.keys()),
                last_patched_at=last,
                hours_from_publication=_hours(last - published) if last and published else None,
                hours_from_import=_hours(last - imported) if last and imported else None,
                complete=bool(targets) and targets <= patched.keys(),
            )
        )
    return tuple(result)


class _RunFact(BaseModel):
    model_config = _FROZEN

    at: datetime
    status: HostStatus | None  # None: dispatched with no outcome recorded, or never dispatched
    dispatched: bool
    run: str
    due: datetime | None
    rolled_back: bool = False  # the run was a rollback: success took the host back to its earlier versions


def _run_facts(runs: Iterable[RunEvidence]) -> dict[str, _RunFact]:
    """Per host, its newest evidence from real runs."""
    newest: dict[str, _RunFact] = {}
    for evidence in sorted(runs, key=lambda e: (e.run.created_at, e.run.id)):
        latest = _latest_attempts(evidence)
        for host in evidence.plan.targets:
            _, due = _planned_due(evidence.plan, host)
            attempt = latest.get(host)
            if attempt is not None:
                fact = _RunFact(
                    at=_attempt_time(attempt),
                    status=attempt.status,
                    dispatched=True,
                    run=evidence.run.id,
                    due=due,
                    rolled_back=evidence.rollback,
                )
            elif evidence.run.state is RunState.COMPLETED:
                continue
            else:
                fact = _RunFact(at=evidence.run.created_at, status=None, dispatched=False, run=evidence.run.id, due=due)
            if host not in newest or fact.at >= newest[host].at:
                newest[host] = fact
    return newest


def _from_run(host: str, fact: _RunFact, owner: dict[str, str | None]) -> StandingHost | None:
    due = fact.due.date() if fact.due else None
    common = {"host": host, "due": due, "run": fact.run, "as_of": fact.at, **owner}
    if fact.rolled_back and fact.status is not None and fact.status.is_success:
        return StandingHost(status=StandingStatus.UNPATCHED, evidence=f"rolled back by run {fact.run}", **common)
    if fact.status is not None and fact.status.is_success:
        return None
    if fact.status is HostStatus.FAILED:
        return StandingHost(status=StandingStatus.FAILED, evidence=f"failed in run {fact.run}", **common)
    if fact.status is HostStatus.UNREACHABLE:
        return StandingHost(status=StandingStatus.UNREACHABLE, evidence=f"unreachable in run {fact.run}", **common)
    if fact.status is HostStatus.UNKNOWN or (fact.status is None and fact.dispatched):
        return StandingHost(
            status=StandingStatus.UNKNOWN,
            evidence=f"dispatched in run {fact.run} without a recorded outcome (resume reconciles it)",
            **common,
        )
    return StandingHost(status=StandingStatus.UNPATCHED, evidence=f"target of run {fact.run}, not patched", **common)


def _from_facts(host: str, findings: list[FactsFinding], owner: dict[str, str | None]) -> StandingHost | None:
    affected = [f for f in findings if f.status == "affected"]
    if affected:
        dues = [f.due for f in affected if f.due is not None]
        names = sorted({f.advisory for f in affected if f.advisory})
        return StandingHost(
            host=host,
            status=StandingStatus.UNPATCHED,
            due=min(dues) if dues else None,
            evidence=f"affected by {', '.join(names)} (package facts)",
            as_of=affected[0].gathered_at,
            **owner,
        )
    unknown = [f for f in findings if f.status == "unknown"]
    if unknown:
        reasons = sorted({f.reason for f in unknown if f.reason})
        return StandingHost(
            host=host,
            status=StandingStatus.UNKNOWN,
            evidence="; ".join(reasons) or "exposure unknown",
            as_of=unknown[0].gathered_at,
            **owner,
        )
    return None


def _standing(inputs: ReportInputs, real_runs: list[RunEvidence]) -> tuple[StandingHost, ...]:
    inventory = {host.name: host for host in inputs.hosts}
    run_facts = _run_facts(real_runs)
    findings: dict[str, list[FactsFinding]] = {}
    for finding in inputs.findings:
        findings.setdefault(finding.host, []).append(finding)
    names = set(run_facts) | set(findings) | set(inventory)
    result = []
    for name in sorted(names):
        host = inventory.get(name)
        if host is not None and left_alone(host) is not None:
            continue
        if inputs.inventory_given and host is None:
            continue  # no longer in the inventory: nobody to ask about it
        owner = owner_fields(host)
        run_fact = run_facts.get(name)
        host_findings = findings.get(name, [])
        facts_at = max((f.gathered_at for f in host_findings if f.gathered_at), default=None)
        if run_fact is not None and (facts_at is None or run_fact.at >= facts_at):
            entry = _from_run(name, run_fact, owner)
        else:
            entry = _from_facts(name, host_findings, owner)
        if entry is not None:
            result.append(entry)
    order = list(StandingStatus)
    return tuple(sorted(result, key=lambda e: (order.index(e.status), e.due or date.max, e.host)))


def _decommissioned(inputs: ReportInputs) -> tuple[DecommissionedAnswer, ...]:
    result = []
    for host in inputs.hosts:
        if host.lifecycle is not Lifecycle.DECOMMISSIONED:
            continue
        answers: list[tuple[datetime, str]] = []
        if host.name in inputs.facts_gathered:
            at = inputs.facts_gathered[host.name]
            answers.append((at, f"package facts gathered from it at {at.isoformat(timespec='seconds')}"))
        for evidence in inputs.runs:
            for attempt in evidence.attempts:
                if attempt.host == host.name and attempt.status not in (
                    None,
                    HostStatus.UNREACHABLE,
                    HostStatus.SKIPPED,
                ):
                    at = _attempt_time(attempt)
                    answers.append((at, f"Ansible reached it in run {evidence.run.id} ({attempt.status})"))
        if answers:
            at, how = max(answers)
            result.append(DecommissionedAnswer(host=host.name, last_answered=at, evidence=how, **owner_fields(host)))
    return tuple(result)


def _rehearsal(evidence: RunEvidence) -> Rehearsal:
    started = [s.started_at for s in evidence.stages if s.started_at is not None]
    finished = [s.finished_at for s in evidence.stages if s.finished_at is not None]
    start = min(started) if started else None
    end = max(finished) if finished and evidence.run.state.is_final else None
    return Rehearsal(
        run=evidence.run.id,
        created_at=evidence.run.created_at,
        created_by=evidence.run.created_by,
        mode=evidence.run.mode.value,
        state=evidence.run.state.value,
        hosts=len(evidence.plan.targets),
        started_at=start,
        finished_at=end,
        duration_seconds=(end - start).total_seconds() if start and end else None,
    )


def build_report(inputs: ReportInputs, *, class_order: Iterable[str] = ()) -> ComplianceReport:
    """The compliance report of these records; `class_order` lists risk classes most urgent first (the policy's)."""
    all_real = [e for e in inputs.runs if not e.rehearsal]
    period = [e for e in inputs.runs if _in_period(e, inputs.since)]
    period_real = [e for e in period if not e.rehearsal]
    patching = [e for e in all_real if not e.rollback]
    sla = _sla([e for e in period_real if not e.rollback], patching, inputs.generated_at, class_order)
    standing = _standing(inputs, all_real)
    decommissioned = _decommissioned(inputs)
    approvals = tuple(
        ApprovalEntry(run=a.run_id, stage=a.stage, approver=a.approver, at=a.at, comment=a.comment)
        for e in sorted(period, key=lambda e: (e.run.created_at, e.run.id))
        for a in e.approvals
    )
    in_order = sorted(period, key=lambda e: e.run.created_at)
    rehearsals = tuple(_rehearsal(e) for e in in_order if e.rehearsal and not e.drill)
    drills = tuple(_rehearsal(e) for e in in_order if e.drill)
    totals = ReportTotals(
        runs=len(period_real),
        rehearsals=len(rehearsals),
        drills=len(drills),
        patched_within_sla=sum(c.within for c in sla),
        patched_late=sum(c.late for c in sla),
        overdue_unpatched=sum(c.overdue_unpatched for c in sla),
        standing={status.value: sum(1 for s in standing if s.status is status) for status in StandingStatus},
        decommissioned_answering=len(decommissioned),
        approvals=len(approvals),
    )
    return ComplianceReport(
        generated_at=inputs.generated_at,
        since=inputs.since,
        inventory_given=inputs.inventory_given,
        totals=totals,
        sla=sla,
        time_to_patch=_time_to_patch([e for e in period_real if not e.rollback], inputs.advisories),
        standing=standing,
        decommissioned_answering=decommissioned,
        approvals=approvals,
        rehearsals=rehearsals,
        drills=drills,
        audit=inputs.audit,
    )
