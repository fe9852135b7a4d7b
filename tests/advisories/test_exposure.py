"""Exposure per host and the targets of `rollout --advisory`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.domain.exposure import ExposureStatus
from patchorch.domain.fleet import Criticality, Exposure, Fleet, Host, Owner
from patchorch.domain.plan import PackageSpec, UpdateScope
from patchorch.domain.vulnerability import Decision
from patchorch.errors import AdvisoryError, PlanError
from patchorch.orchestrator.exposure import advisory_targets, exposure, hosts_without_facts, import_advisories
from patchorch.store.advisories import AdvisoryStore
from tests.advisories.conftest import CSAF, FIXTURES, KEV
from tests.advisories.documents import DEBIAN_12 as DEBIAN_DOCS
from tests.advisories.documents import RHEL_8_10, bsi_cpe_only, fleet_packages, red_hat_streams, write

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DEBIAN_12 = OsRelease(family="debian", version="12", manager="dpkg")
MAIL = Owner(team="mail", contact="mail-oncall@example.org")
FLEET = Fleet(
    hosts=(
        Host(name="mx1", owner=MAIL, exposure=Exposure.INTERNET, criticality=Criticality.HIGH),
        Host(name="mx2", owner=MAIL),
        Host(name="mx3", owner=MAIL),
        Host(name="db1"),
    )
)


def _facts(store: AdvisoryStore, host: str, version: str, gathered_at: datetime = NOW) -> None:
    store.save_facts(host, [PackageFact(name="acme-mta", version=version, source="acme-mta")], DEBIAN_12, gathered_at)


@pytest.fixture
def loaded(store: AdvisoryStore) -> AdvisoryStore:
    """The store with every fixture imported and facts for mx1 (affected), mx2 (fixed), mx3 (stale)."""
    import_advisories([FIXTURES], store, now=NOW)
    _facts(store, "mx1", "1.0-1")
    _facts(store, "mx2", "1.0-2")
    _facts(store, "mx3", "1.0-1", gathered_at=NOW - timedelta(days=30))
    return store


def _status(report_rows: object, host: str) -> set[ExposureStatus]:
    return {row.status for row in report_rows if row.host == host}  # type: ignore[attr-defined]


def test_exposure_per_host(loaded: AdvisoryStore) -> None:
    """Affected, not affected, stale and missing facts are each reported as such, with owners."""
    report = exposure(FLEET, loaded, now=NOW, max_fact_age=timedelta(days=7))
    assert _status(report.rows, "mx1") == {ExposureStatus.AFFECTED}
    assert _status(report.rows, "mx2") == {ExposureStatus.NOT_AFFECTED}
    assert _status(report.rows, "mx3") == {ExposureStatus.UNKNOWN}
    assert _status(report.rows, "db1") == {ExposureStatus.UNKNOWN}
    assert report.unknown_hosts == ("db1", "mx3")
    row = next(r for r in report.rows if r.host == "mx1" and r.advisory == "WID-SEC-W-2026-0042")
    assert (row.installed, row.fixed, row.cvss, row.known_exploited) == ("1.0-1", "1.0-2", 9.8, True)
    assert row.decision is Decision.IMMEDIATE
    assert row.due is not None
    assert row.due.isoformat() == "2026-12-13"
    assert row.owner_team == "mail"
    assert "older than" in next(r for r in report.rows if r.host == "mx3").reason


def test_missing_facts_are_unknown_not_unaffected(store: AdvisoryStore) -> None:
    """Without facts, no host is ever reported as not affected."""
    import_advisories([CSAF], store, now=NOW)
    report = exposure(FLEET, store, now=NOW)
    assert {row.status for row in report.rows} == {ExposureStatus.UNKNOWN}


def test_sla_gives_a_due_date(loaded: AdvisoryStore) -> None:
    """Without KEV, the due date is publication plus the SLA of the decision."""
    report = exposure(FLEET, loaded, advisory="DSA-6001-1", now=NOW, sla={Decision.IMMEDIATE: timedelta(days=1)})
    row = next(r for r in report.rows if r.host == "mx1")
    assert row.due is not None
    assert row.due.isoformat() == "2026-11-21"  # published 2026-11-20 + 1 day, before the KEV due date


def test_filter_by_cve_and_unknown_advisory(loaded: AdvisoryStore) -> None:
    """--advisory takes an advisory ID or a CVE; anything else is a PlanError."""
    report = exposure(FLEET, loaded, advisory="CVE-2026-10001", now=NOW)
    assert {r.advisory for r in report.rows if r.status is ExposureStatus.AFFECTED} == {
        "DSA-6001-1",
        "WID-SEC-W-2026-0042",
    }
    with pytest.raises(PlanError, match="no advisory or CVE"):
        exposure(FLEET, loaded, advisory="CVE-1999-0001", now=NOW)


def test_advisory_targets(loaded: AdvisoryStore) -> None:
    """rollout --advisory gets the affected hosts, an at-least update and the hosts' risk inputs."""
    targets, update, vulnerabilities, decision = advisory_targets(loaded, FLEET, "WID-SEC-W-2026-0042", NOW)
    assert targets == {"mx1"}
    assert update.scope is UpdateScope.PACKAGES
    assert update.packages == (PackageSpec(name="acme-mta", at_least="1.0-2"),)
    assert update.advisory == "WID-SEC-W-2026-0042"
    assert vulnerabilities["mx1"].known_exploited
    assert decision is Decision.IMMEDIATE
    assert set(hosts_without_facts(loaded, FLEET, NOW)) == {"db1", "mx3"}


def test_kev_only_advisory_has_no_fix(store: AdvisoryStore) -> None:
    """A KEV entry alone names no package: targeting it finds nothing to install."""
    import_advisories([KEV], store, now=NOW)
    targets, update, _, decision = advisory_targets(store, FLEET, "KEV:CVE-2026-10001", NOW)
    assert targets == set()
    assert update.packages == ()
    assert decision is None


def test_import_is_all_or_nothing(store: AdvisoryStore, tmp_path: Path) -> None:
    """One invalid file in a directory means nothing is imported."""
    directory = tmp_path / "in"
    directory.mkdir()
    (directory / "a.json").write_bytes(CSAF.read_bytes())
    (directory / "b.json").write_text("{}", encoding="utf-8")
    with pytest.raises(AdvisoryError):
        import_advisories([directory], store, now=NOW)
    assert store.list() == ()


def test_policy_gives_affected_hosts_a_risk_class_and_its_sla_as_due_date(loaded) -> None:  # type: ignore[no-untyped-def]
    """With a policy, each affected row names the host's risk class and is due by publication + that class's SLA."""
    from patchorch.sources.policy import load_policy

    policy = load_policy(None)
    report = exposure(FLEET, loaded, advisory="DSA-6001-1", now=NOW, policy=policy)
    affected = [row for row in report.rows if row.status is ExposureStatus.AFFECTED]
    assert affected
    for row in affected:
        assert row.risk_class in policy.classes
        assert row.due is not None
        assert row.due <= (NOW + policy.classes[row.risk_class].sla).date()


def test_unmapped_product_row_is_unknown_and_names_the_owner_to_ask(store: AdvisoryStore, tmp_path: Path) -> None:
    """A BSI product that maps to nothing makes a host with facts UNKNOWN, naming the product and its owner."""
    data = bsi_cpe_only(extra_products=(("Acme", "Widget Server", "Acme Widget Server 7", None),))
    report = import_advisories([write(tmp_path / "wid.json", data)], store, now=NOW)
    assert report.unmapped == 1
    assert {p.name for p in report.products} >= {"Acme Widget Server 7", "Debian Linux", "Open Source Exim <4.97.1"}
    store.save_facts("mx1", [PackageFact(name="bash", version="4.4.20-4.el8_6")], RHEL_8_10, NOW)
    (row,) = exposure(Fleet(hosts=(FLEET.get("mx1"),)), store, now=NOW).rows
    assert (row.status, row.product, row.package) == (ExposureStatus.UNKNOWN, "Acme Widget Server 7", None)
    assert "cannot map" in row.reason
    assert row.reason.endswith("ask the owner, mail <mail-oncall@example.org>")


def test_cpe_only_advisory_never_reports_a_debian_host_not_affected(store: AdvisoryStore, tmp_path: Path) -> None:
    """Fleet-shaped Debian facts against a CPE-only advisory naming Debian Linux: UNKNOWN, not 'not affected'."""
    import_advisories([write(tmp_path / "wid.json", bsi_cpe_only())], store, now=NOW)
    store.save_facts("db1", fleet_packages(), DEBIAN_DOCS, NOW)
    (row,) = exposure(Fleet(hosts=(FLEET.get("db1"),)), store, now=NOW).rows
    assert row.status is ExposureStatus.UNKNOWN
    assert row.reason.endswith("db1 has no owner in the inventory to ask")
    assert advisory_targets(store, Fleet(hosts=(FLEET.get("db1"),)), "WID-SEC-W-2026-3001", NOW).targets == set()


def test_facts_without_packages_are_unknown_not_unaffected(loaded: AdvisoryStore) -> None:
    """A host whose fresh facts list no package at all is UNKNOWN with the reason, never not affected."""
    loaded.save_facts("mx2", [], DEBIAN_12, NOW)
    report = exposure(FLEET, loaded, now=NOW)
    (row,) = [r for r in report.rows if r.host == "mx2"]
    assert row.status is ExposureStatus.UNKNOWN
    assert row.reason == "the facts gathered 2026-11-30T09:00+00:00 list no installed packages"
    assert "mx2" in hosts_without_facts(loaded, FLEET, NOW)


def test_facts_without_a_release_are_unknown_not_unaffected(loaded: AdvisoryStore) -> None:
    """A host whose facts name its distribution but no release cannot be compared with any stream: UNKNOWN."""
    loaded.save_facts("mx2", [PackageFact(name="acme-mta", version="1.0-2")], OsRelease(family="debian"), NOW)
    (row,) = [r for r in exposure(FLEET, loaded, now=NOW).rows if r.host == "mx2"]
    assert row.status is ExposureStatus.UNKNOWN
    assert "distribution debian without its release" in row.reason


def test_rocky_host_is_affected_by_the_rhel_fix_of_its_major(store: AdvisoryStore, tmp_path: Path) -> None:
    """Stored facts of a Rocky 9 host (with its os-release CPE) meet RHEL's el9 kernel fix; the Rocky 8 fix is not
    merged in, and `rollout --advisory` targets the host with the el9 fix."""
    import_advisories([write(tmp_path / "rhsa.json", red_hat_streams())], store, now=NOW)
    rocky = OsRelease(family="Rocky", version="9", release="9.4", manager="rpm", cpe="cpe:/o:rocky:rocky:9::baseos")
    store.save_facts("db1", [PackageFact(name="kernel", version="5.14.0-427.37.1.el9_4")], rocky, NOW)
    fleet = Fleet(hosts=(FLEET.get("db1"),))
    (row,) = exposure(fleet, store, now=NOW).rows
    assert (row.status, row.package, row.fixed) == (ExposureStatus.AFFECTED, "kernel", "5.14.0-427.42.1.el9_4")
    targets = advisory_targets(store, fleet, "RHSA-2026:9001", NOW)
    assert targets.targets == {"db1"}
    assert [(p.name, p.at_least) for p in targets.update.packages] == [("kernel", "5.14.0-427.42.1.el9_4")]


def test_kev_entry_alone_leaves_hosts_with_facts_unknown(store: AdvisoryStore) -> None:
    """Exposure for a CVE only CISA's KEV names decides no host: UNKNOWN with the reason, never not affected."""
    import_advisories([KEV], store, now=NOW)
    _facts(store, "mx1", "1.0-2")
    report = exposure(FLEET, store, advisory="KEV:CVE-2026-10001", now=NOW)
    assert {row.status for row in report.rows} == {ExposureStatus.UNKNOWN}
    (row,) = [r for r in report.rows if r.host == "mx1"]
    assert row.reason.startswith("no imported advisory for CVE-2026-10001 names a package or product")
    assert "(CISA KEV lists " in row.reason


def test_the_plan_and_the_exposure_report_give_the_same_due_date(loaded: AdvisoryStore) -> None:
    """Planning a rollout for an advisory later than its publication keeps the due date exposure reports for it."""
    from patchorch.domain.plan import Mode
    from patchorch.domain.planner import plan
    from patchorch.sources.policy import load_policy

    policy = load_policy(None)
    later = NOW + timedelta(days=3)
    rows = exposure(FLEET, loaded, advisory="DSA-6001-1", now=later, policy=policy).rows
    reported = {row.host: row.due for row in rows if row.status is ExposureStatus.AFFECTED}
    found = advisory_targets(loaded, FLEET, "DSA-6001-1", later)
    rollout = plan(
        FLEET,
        policy,
        mode=Mode.REGULAR,
        now=later,
        targets=found.targets,
        update=found.update,
        vulnerabilities=found.vulnerabilities.values(),
    )
    planned = {name: due.date() for name in found.targets if (due := rollout.planned_host(name).due) is not None}
    assert reported
    assert planned == reported
