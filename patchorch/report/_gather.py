"""Read the records a compliance report is computed from: the run store, the advisory store and the inventory."""

from __future__ import annotations

from datetime import datetime

from patchorch.domain.compliance import (
    AdvisoryDates,
    AuditState,
    ComplianceReport,
    FactsFinding,
    ReportInputs,
    RunEvidence,
    build_report,
)
from patchorch.domain.exposure import ExposureStatus
from patchorch.domain.fleet import Fleet
from patchorch.domain.policy import Policy
from patchorch.errors import AuditChainError
from patchorch.orchestrator.exposure import exposure
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.runs import RunStore

# `RunStore.runs` pages newest first; a report reads every run the store holds.
_EVERY_RUN = 1_000_000_000


def _audit_state(store: RunStore) -> AuditState:
    try:
        return AuditState(intact=True, records=store.verify_audit())
    except AuditChainError as exc:
        seq = exc.context.get("seq")
        return AuditState(
            intact=False,
            records=len(store.audit_log()),
            problem=str(exc),
            first_bad_record=seq if isinstance(seq, int) else None,
        )


def _runs(store: RunStore) -> tuple[RunEvidence, ...]:
    return tuple(
        RunEvidence(
            run=run,
            plan=store.plan(run.id),
            stages=tuple(store.stages(run.id)),
            attempts=tuple(store.attempts(run.id)),
            approvals=tuple(store.approvals(run.id)),
        )
        for run in store.runs(_EVERY_RUN)
    )


def _findings(fleet: Fleet, advisories: AdvisoryStore, policy: Policy, now: datetime) -> tuple[FactsFinding, ...]:
    found = exposure(fleet, advisories, now=now, policy=policy)
    kinds = {
        ExposureStatus.AFFECTED: "affected",
        ExposureStatus.UNKNOWN: "unknown",
        ExposureStatus.NOT_AFFECTED: "not-affected",
    }
    return tuple(
        FactsFinding(
            host=row.host,
            status=kinds[row.status],
            advisory=row.advisory,
            due=row.due,
            gathered_at=row.facts_gathered_at,
            reason=row.reason,
        )
        for row in found.rows
        if row.status in kinds
    )


def gather(
    runs: RunStore,
    advisories: AdvisoryStore,
    fleet: Fleet | None,
    policy: Policy,
    *,
    now: datetime,
    since: datetime | None = None,
) -> ComplianceReport:
    """The compliance report of everything recorded, as of `now`; period sections count runs created since `since`.

    Without a fleet (no inventory given) owners, package-facts exposure and decommissioned hosts cannot be known.
    """
    stored = advisories.list()
    inputs = ReportInputs(
        generated_at=now,
        since=since,
        runs=_runs(runs),
        advisories=tuple(
            AdvisoryDates(
                id=s.advisory.id,
                title=s.advisory.title,
                cves=s.advisory.cves,
                published=s.advisory.published,
                imported_at=s.imported_at,
            )
            for s in stored
        ),
        hosts=tuple(fleet) if fleet is not None else (),
        inventory_given=fleet is not None,
        facts_gathered={host: at for host, (_, at) in advisories.all_facts().items()},
        findings=_findings(fleet, advisories, policy, now) if fleet is not None else (),
        audit=_audit_state(runs),
    )
    return build_report(inputs, class_order=policy.wave_order)
