"""The host's OS CPE (published in os-release or derived for Debian/Ubuntu), RHEL fixes applied to Rocky and
AlmaLinux, and matching of advisories that name operating systems by CPE."""

from __future__ import annotations

import json
from typing import Any

import pytest

from patchorch.domain.advisory import (
    Advisory,
    Finding,
    FindingStatus,
    HostFacts,
    OsRelease,
    PackageFact,
    installs,
    match,
)
from patchorch.domain.products import derived_os_cpe, parse_cpe, same_os_version, stream_of
from patchorch.sources.advisories import parse_document
from patchorch.sources.versions import PackageVersions
from tests.advisories.documents import DEBIAN_12, RHEL_8_10, bsi_cpe_only, red_hat_streams

VERSIONS = PackageVersions()
ROCKY_9 = OsRelease(
    family="Rocky",
    version="9",
    release="9.4",
    manager="rpm",
    cpe="cpe:/o:rocky:rocky:9::baseos",
    cpe_source="os-release",
)
ALMA_8_6 = OsRelease(
    family="AlmaLinux",
    version="8",
    release="8.6",
    manager="rpm",
    cpe="cpe:/o:almalinux:almalinux:8::baseos",
    cpe_source="os-release",
)
CENTOS_9 = OsRelease(family="CentOS", version="9", release="9", manager="rpm", cpe="cpe:/o:centos:centos:9")
KALI = OsRelease(family="Kali", version="2026", release="2026.4", manager="dpkg")
BASH_EL9 = PackageFact(name="bash", version="5.1.8-9.el9")


def _findings(os: OsRelease, data: dict[str, Any], *packages: PackageFact) -> tuple[Finding, ...]:
    (advisory,) = parse_document(json.dumps(data).encode(), "doc.json").advisories
    return match(installs("h1", os, packages), [advisory], VERSIONS)


def _facts(os: dict[str, str], cpe_name: str = "") -> OsRelease:
    return HostFacts.model_validate({"os": os, "manager": "rpm", "os_cpe_name": cpe_name}).release


# --- the mapping ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "version", "release", "cpe"),
    [
        ("debian", "12", "12.8", "cpe:/o:debian:debian_linux:12"),
        ("debian", "", "11.11", "cpe:/o:debian:debian_linux:11"),
        ("ubuntu", "22", "22.04", "cpe:/o:canonical:ubuntu_linux:22.04"),
        ("ubuntu", "24", "", None),
        ("debian", "", "", None),
        ("rhel", "9", "9.4", None),
        ("kali", "2026", "2026.4", None),
    ],
)
def test_debian_and_ubuntu_cpes_are_derived_from_family_and_release(
    family: str, version: str, release: str, cpe: str | None
) -> None:
    """Debian names its major release, Ubuntu its YY.MM release; other families and missing releases derive none."""
    assert derived_os_cpe(family, version, release) == cpe


def test_published_cpe_name_is_the_host_cpe() -> None:
    """CPE_NAME of os-release is recorded as published, even where a CPE could be derived."""
    os = _facts({"family": "rocky", "version": "9", "release": "9.4"}, "cpe:/o:rocky:rocky:9::baseos")
    assert (os.cpe, os.cpe_source) == ("cpe:/o:rocky:rocky:9::baseos", "os-release")
    assert stream_of(parse_cpe(os.cpe)) == ("rocky", "9")  # type: ignore[arg-type]


def test_debian_without_cpe_name_gets_the_derived_cpe() -> None:
    """A Debian host publishes no CPE_NAME: its CPE is derived and recorded as such."""
    os = _facts({"family": "debian", "version": "12", "release": "12.8"})
    assert (os.cpe, os.cpe_source) == ("cpe:/o:debian:debian_linux:12", "derived")


@pytest.mark.parametrize("cpe_name", ["not a cpe", "cpe:/a:acme:widget:1", "cpe:/o:x:" + "y" * 300, "cpe:/o:a:b\x1b"])
def test_cpe_name_that_is_no_os_cpe_is_ignored_not_fatal(cpe_name: str) -> None:
    """A host's CPE_NAME that is no OS CPE is dropped (derivation applies), and the rest of its facts stand."""
    assert _facts({"family": "redhat", "version": "9"}, cpe_name).cpe is None
    assert _facts({"family": "debian", "version": "12"}, cpe_name).cpe == "cpe:/o:debian:debian_linux:12"


def test_os_cpe_field_refuses_what_is_no_os_cpe() -> None:
    """OsRelease.cpe (what the store keeps) must be the CPE of an operating system."""
    with pytest.raises(ValueError, match="not the CPE of an operating system"):
        OsRelease(family="debian", cpe="cpe:/a:exim:exim:4.97")


@pytest.mark.parametrize(
    ("claimed", "host", "same"),
    [
        ("", "9", True),
        ("9", "9", True),
        ("9", "9.4", True),
        ("9.4", "9", True),
        ("8", "9", False),
        ("9.2", "9.4", False),
    ],
)
def test_os_versions_are_ruled_out_only_when_they_differ(claimed: str, host: str, same: bool) -> None:
    """A CPE version rules a host out only when neither is a dotted prefix of the other."""
    assert same_os_version(claimed, host) is same


@pytest.mark.parametrize(("os", "rebuild_of"), [(ROCKY_9, "rhel-9"), (ALMA_8_6, "rhel-8"), (RHEL_8_10, None)])
def test_rocky_and_alma_are_rebuilds_of_rhel_of_their_major(os: OsRelease, rebuild_of: str | None) -> None:
    """Rocky and AlmaLinux map to the RHEL release of their major version; RHEL itself maps to nothing."""
    assert os.rebuild_of == rebuild_of


# --- RHEL advisories on rebuilds -------------------------------------------------------------------------------------


def test_rocky_kernel_below_the_el9_fix_is_affected_with_that_fix() -> None:
    """A Rocky 9 kernel below RHEL's el9 fix is affected and names the el9 fix; at the fix it is not."""
    below = PackageFact(name="kernel", version="5.14.0-427.37.1.el9_4")
    (finding,) = _findings(ROCKY_9, red_hat_streams(), below)
    assert (finding.status, finding.fixed, finding.distro) == (
        FindingStatus.AFFECTED,
        "5.14.0-427.42.1.el9_4",
        "rocky-9",
    )
    assert _findings(ROCKY_9, red_hat_streams(), PackageFact(name="kernel", version="5.14.0-427.42.1.el9_4")) == ()


def test_rebuild_on_an_eus_minor_is_compared_with_the_main_stream_fix_only() -> None:
    """AlmaLinux 8.6 has no EUS stream: its kernel at RHEL's 8.6 EUS fix is still affected by the el8 main fix."""
    at_eus_fix = PackageFact(name="kernel", version="4.18.0-372.131.1.el8_6")
    (finding,) = _findings(ALMA_8_6, red_hat_streams(), at_eus_fix)
    assert (finding.status, finding.fixed) == (FindingStatus.AFFECTED, "4.18.0-553.30.1.el8_10")


def test_rhel_claim_makes_a_rocky_host_of_that_release_unknown() -> None:
    """A BSI advisory naming RHEL 9 leaves a Rocky 9 host UNKNOWN (not cleared), naming its OS CPE."""
    (finding,) = _findings(ROCKY_9, bsi_cpe_only(), BASH_EL9)
    assert (finding.status, finding.product) == (FindingStatus.UNKNOWN, "Red Hat Enterprise Linux 9")
    assert "OS CPE cpe:/o:rocky:rocky:9::baseos" in finding.reason


# --- operating systems named by CPE ----------------------------------------------------------------------------------

CENTOS_CLAIM = (("CentOS", "CentOS Stream", "CentOS Stream 9", "cpe:/o:centos:centos:9"),)


def test_os_outside_the_table_matches_the_host_whose_recorded_cpe_names_it() -> None:
    """An advisory naming cpe:/o:centos:centos:9 makes a host whose os-release publishes that CPE UNKNOWN."""
    findings = _findings(CENTOS_9, bsi_cpe_only(extra_products=CENTOS_CLAIM), BASH_EL9)
    assert [(f.status, f.product) for f in findings] == [(FindingStatus.UNKNOWN, "CentOS Stream 9")]


def test_recorded_cpe_of_another_release_or_os_clears_the_host() -> None:
    """The same claim clears a CentOS 8 host (another release) and a Rocky 9 host (another OS CPE)."""
    centos_8 = CENTOS_9.model_copy(update={"version": "8", "cpe": "cpe:/o:centos:centos:8"})
    claim = bsi_cpe_only(extra_products=CENTOS_CLAIM)
    assert _findings(centos_8, claim, PackageFact(name="bash", version="4.4.20-4.el8")) == ()
    assert {f.product for f in _findings(ROCKY_9, claim, BASH_EL9)} == {"Red Hat Enterprise Linux 9"}


def test_os_outside_the_table_and_a_host_without_cpe_of_an_unmapped_family_is_unknown() -> None:
    """Without a recorded CPE, a Kali host cannot be told apart from cpe:/o:centos:centos: UNKNOWN, saying why."""
    findings = _findings(KALI, bsi_cpe_only(extra_products=CENTOS_CLAIM), PackageFact(name="bash", version="5.2-1"))
    by_product = {f.product: f for f in findings}
    assert by_product["CentOS Stream 9"].status is FindingStatus.UNKNOWN
    assert "record no OS CPE" in by_product["CentOS Stream 9"].reason
    assert "Cisco IOS XE" in by_product


def test_debian_host_with_derived_cpe_is_unknown_for_debian_and_cleared_of_other_systems() -> None:
    """The derived Debian CPE matches 'Debian Linux' (any release) and rules out RHEL 9, IOS XE and CentOS."""
    debian = DEBIAN_12.model_copy(update={"cpe": "cpe:/o:debian:debian_linux:12", "cpe_source": "derived"})
    findings = _findings(debian, bsi_cpe_only(extra_products=CENTOS_CLAIM), PackageFact(name="bash", version="5.2-1"))
    assert [(f.status, f.product) for f in findings] == [(FindingStatus.UNKNOWN, "Debian Linux")]
    assert "OS CPE cpe:/o:debian:debian_linux:12" in findings[0].reason


# --- never not affected without proof --------------------------------------------------------------------------------


def test_package_named_for_a_family_without_release_is_unknown() -> None:
    """A fix listed for `distro=debian` (no release) cannot be placed: a host with the package is UNKNOWN."""
    advisory = Advisory.model_validate(
        {
            "id": "X-1",
            "source": "csaf",
            "revision": "1",
            "revision_key": (1,),
            "affected": [
                {
                    "ecosystem": "deb",
                    "distro": "debian",
                    "name": "sudo",
                    "events": [{"kind": "introduced", "version": "0"}, {"kind": "fixed", "version": "1.9.16-1"}],
                }
            ],
        }
    )
    sudo = PackageFact(name="sudo", version="1.9.13p3-1+deb12u1", source="sudo")
    (finding,) = match(installs("h1", DEBIAN_12, [sudo]), [advisory], VERSIONS)
    assert (finding.status, finding.package) == (FindingStatus.UNKNOWN, "sudo")
    assert "for debian without a release" in finding.reason
