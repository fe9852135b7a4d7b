"""ExposureReport.affected_by: which affected rows an advisory accounts for in `advisories list`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from patchorch.domain.advisory import Advisory, AdvisorySource, KevEntry
from patchorch.domain.exposure import ExposureReport, ExposureRow, ExposureStatus

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CVE = "CVE-2026-10001"
KEV = KevEntry(
    cve=CVE,
    vendor_project="Acme",
    product="MTA",
    date_added=date(2026, 11, 1),
    due_date=date(2026, 11, 22),
    required_action="Apply updates.",
)


def _advisory(identifier: str, *, kev: KevEntry | None = None) -> Advisory:
    return Advisory(
        id=identifier,
        source=AdvisorySource.KEV if kev else AdvisorySource.CSAF,
        revision="1",
        revision_key=(1,),
        cves=(CVE,),
        kev=kev,
    )


def _row(host: str, advisory: str, status: ExposureStatus = ExposureStatus.AFFECTED) -> ExposureRow:
    return ExposureRow(host=host, status=status, advisory=advisory, cves=(CVE,))


REPORT = ExposureReport(
    generated_at=NOW,
    max_fact_age=timedelta(days=7),
    rows=(
        _row("mx1", "WID-1"),
        _row("mx2", "DSA-1"),
        _row("mx3", "WID-1", ExposureStatus.UNKNOWN),
    ),
)


def test_an_advisory_accounts_for_its_own_affected_rows_only() -> None:
    """A package advisory counts the hosts it affects itself, not those another advisory of the same CVE affects,
    nor its unknown rows."""
    assert [row.host for row in REPORT.affected_by(_advisory("WID-1"))] == ["mx1"]


def test_a_kev_entry_accounts_for_the_affected_rows_of_its_cve() -> None:
    """A KEV entry names no package: it counts every host an advisory sharing its CVE affects."""
    assert [row.host for row in REPORT.affected_by(_advisory("KEV:" + CVE, kev=KEV))] == ["mx1", "mx2"]
