"""Matching installed packages against advisories, the SSVC-style decision and per-host aggregation."""

from __future__ import annotations

from itertools import product

import pytest

from patchorch.domain.advisory import (
    DECISION_TABLE,
    Advisory,
    Ecosystem,
    Exploitation,
    FindingStatus,
    OsRelease,
    PackageFact,
    PackageInstall,
    decide,
    host_vulnerabilities,
    installs,
    match,
)
from patchorch.domain.fleet import Criticality, Exposure, Fleet, Host
from patchorch.domain.vulnerability import Decision
from patchorch.sources.advisories import load_document
from patchorch.sources.versions import PackageVersions
from tests.advisories.conftest import CSAF, KEV, OSV, OSV_WITHDRAWN

VERSIONS = PackageVersions()
DEBIAN_12 = OsRelease(family="debian", version="12", release="12.5", manager="dpkg")


def _advisories(*paths: object) -> list[Advisory]:
    return [advisory for path in paths for advisory in load_document(path).advisories]  # type: ignore[arg-type]


def _host(name: str, version: str, os: OsRelease = DEBIAN_12, package: str = "acme-mta") -> tuple[PackageInstall, ...]:
    return installs(name, os, [PackageFact(name=package, version=version, arch="amd64", source="acme-mta")])


def test_older_version_is_affected_with_the_fixed_version() -> None:
    """Installed 1.0-1 is affected by an advisory fixed in 1.0-2."""
    (finding,) = match(_host("mx1", "1.0-1"), _advisories(CSAF), VERSIONS)
    assert (finding.host, finding.advisory, finding.installed, finding.fixed) == (
        "mx1",
        "WID-SEC-W-2026-0042",
        "1.0-1",
        "1.0-2",
    )
    assert finding.cvss == 9.8


def test_fixed_version_is_not_affected() -> None:
    """Installed 1.0-2 (and anything newer) is not affected."""
    assert match(_host("mx1", "1.0-2"), _advisories(CSAF, OSV), VERSIONS) == ()
    assert match(_host("mx1", "1:0.1-1"), _advisories(CSAF, OSV), VERSIONS) == ()


def test_other_distribution_is_not_matched() -> None:
    """An advisory for Debian 11 does not match a Debian 12 host, and the reverse."""
    debian_11 = OsRelease(family="debian", version="11", manager="dpkg")
    (finding,) = match(_host("old", "0.9-3", debian_11), _advisories(CSAF), VERSIONS)
    assert finding.fixed == "0.9-3+deb11u1"
    assert match(_host("new", "0.9-3+deb11u1", debian_11), _advisories(CSAF), VERSIONS) == ()
    # 0.9-3 on Debian 12 is below the Debian 12 fix, but the Debian 11 entry must not match it.
    (only,) = match(_host("mx1", "0.9-3"), _advisories(CSAF), VERSIONS)
    assert only.fixed == "1.0-2"


def test_rpm_host_matches_rpm_entry() -> None:
    """A RHEL 9 host with 1.0-1.el9 is affected; epoch and release are honoured."""
    rhel = OsRelease(family="redhat", version="9", manager="rpm")
    (finding,) = match(_host("r1", "1.0-1.el9", rhel), _advisories(CSAF), VERSIONS)
    assert finding.fixed == "1.0-2.el9"
    assert match(_host("r2", "1.0-2.el9_4", rhel), _advisories(CSAF), VERSIONS) == ()


def test_source_package_name_matches() -> None:
    """OSV Debian records name source packages; a binary built from it matches."""
    (finding,) = match(_host("mx1", "1.0-1", package="libacme-mta1"), _advisories(OSV), VERSIONS)
    assert finding.package == "libacme-mta1"


def test_withdrawn_advisory_matches_nothing() -> None:
    """A withdrawn OSV record is ignored."""
    assert match(_host("mx1", "1.0-1"), _advisories(OSV_WITHDRAWN), VERSIONS) == ()


def test_kev_marks_findings_known_exploited() -> None:
    """A KEV entry for the CVE makes the finding actively exploited with the KEV due date."""
    findings = match(_host("mx1", "1.0-1"), _advisories(CSAF, KEV), VERSIONS)
    (finding,) = findings
    assert finding.known_exploited
    assert finding.exploitation is Exploitation.ACTIVE
    assert finding.kev_due is not None
    assert finding.kev_due.isoformat() == "2026-12-13"


def test_unorderable_version_is_unknown_not_silent() -> None:
    """A version the comparator refuses gives an UNKNOWN finding."""
    (finding,) = match(_host("mx1", "1.0:é"), _advisories(CSAF), VERSIONS)
    assert finding.status is FindingStatus.UNKNOWN


def test_osv_last_affected_and_limit() -> None:
    """last_affected is inclusive; introduced later than 0 leaves older versions out."""
    advisory = Advisory.model_validate(
        {
            "id": "OSV-1",
            "source": "osv",
            "revision": "1",
            "revision_key": [1],
            "affected": [
                {
                    "ecosystem": "deb",
                    "distro": "debian-12",
                    "name": "acme-mta",
                    "events": [
                        {"kind": "introduced", "version": "1.0-1"},
                        {"kind": "last_affected", "version": "1.0-3"},
                    ],
                }
            ],
        }
    )
    affected = {v: bool(match(_host("h", v), [advisory], VERSIONS)) for v in ("0.9-1", "1.0-1", "1.0-3", "1.0-4")}
    assert affected == {"0.9-1": False, "1.0-1": True, "1.0-3": True, "1.0-4": False}


def test_os_release_distro_keys() -> None:
    """Distributions compare by family and major version (Ubuntu by its YY.MM release)."""
    assert DEBIAN_12.distro == "debian-12"
    assert OsRelease(family="ubuntu", version="22", release="22.04").distro == "ubuntu-22.04"
    assert OsRelease(family="RedHat", version="9", release="9.3").distro == "rhel-9"
    assert OsRelease(family="debian", version="12").ecosystem is Ecosystem.DEB
    assert OsRelease(family="plan9").ecosystem is None


# --- decision ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exploitation", "exposure", "criticality", "expected"),
    [
        (Exploitation.ACTIVE, Exposure.INTERNET, Criticality.HIGH, Decision.IMMEDIATE),
        (Exploitation.ACTIVE, Exposure.INTERNET, Criticality.LOW, Decision.OUT_OF_CYCLE),
        (Exploitation.POC, Exposure.INTERNAL, Criticality.MEDIUM, Decision.SCHEDULED),
        (Exploitation.NONE, Exposure.ISOLATED, Criticality.LOW, Decision.DEFER),
        (Exploitation.NONE, Exposure.INTERNET, Criticality.CRITICAL, Decision.OUT_OF_CYCLE),
        (Exploitation.ACTIVE, Exposure.ISOLATED, Criticality.LOW, Decision.SCHEDULED),
    ],
)
def test_decision_table_cells(
    exploitation: Exploitation, exposure: Exposure, criticality: Criticality, expected: Decision
) -> None:
    """Documented cells of the decision table."""
    assert decide(exploitation, exposure, criticality) is expected


def test_decision_table_is_complete() -> None:
    """Every exploitation x exposure has a row."""
    assert set(DECISION_TABLE) == set(product(Exploitation, Exposure))


def test_decision_never_less_urgent_when_inputs_worsen() -> None:
    """More exploitation, exposure or criticality never gives a less urgent decision."""
    for exploitation, exposure, criticality in product(Exploitation, Exposure, Criticality):
        here = decide(exploitation, exposure, criticality).rank
        for other_e, other_x, other_c in product(Exploitation, Exposure, Criticality):
            worse = (
                other_e.rank >= exploitation.rank
                and other_x.rank <= exposure.rank  # exposure rank 0 is internet, the most exposed
                and other_c.rank >= criticality.rank
            )
            if worse:
                assert decide(other_e, other_x, other_c).rank <= here


def test_host_vulnerabilities_take_the_worst() -> None:
    """Aggregation keeps the highest CVSS, any KEV entry and the most urgent decision."""
    fleet = Fleet(
        hosts=(
            Host(name="mx1", exposure=Exposure.INTERNET, criticality=Criticality.HIGH),
            Host(name="mx2", exposure=Exposure.ISOLATED, criticality=Criticality.LOW),
        )
    )
    installed = [*_host("mx1", "1.0-1"), *_host("mx2", "1.0-1"), *_host("ghost", "1.0-1")]
    vulnerabilities = host_vulnerabilities(match(installed, _advisories(CSAF, OSV, KEV), VERSIONS), fleet)
    assert set(vulnerabilities) == {"mx1", "mx2"}
    mx1 = vulnerabilities["mx1"]
    assert mx1.advisories == ("DSA-6001-1", "WID-SEC-W-2026-0042")
    assert mx1.max_cvss == 9.8
    assert mx1.known_exploited
    assert mx1.decision is Decision.IMMEDIATE
    assert vulnerabilities["mx2"].decision is Decision.SCHEDULED
