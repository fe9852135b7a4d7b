"""Real-shaped documents against fleet-shaped facts: CPE-only BSI advisories, Red Hat streams, Ubuntu USN aliases."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from patchorch.domain.advisory import (
    Advisory,
    Finding,
    FindingStatus,
    OsRelease,
    PackageFact,
    PackageInstall,
    ProductKind,
    installs,
    match,
)
from patchorch.sources.advisories import load_document, parse_document
from patchorch.sources.versions import PackageVersions
from tests.advisories.conftest import KEV
from tests.advisories.documents import (
    DEBIAN_12,
    RHEL_8_6,
    RHEL_8_10,
    RHEL_9,
    UBUNTU_22_04,
    bsi_cpe_only,
    fleet_packages,
    red_hat_streams,
    usn_with_ubuntu_cve_aliases,
)
from tests.strategies import host_installs

VERSIONS = PackageVersions()


def _advisory(data: dict[str, Any]) -> Advisory:
    import json

    (advisory,) = parse_document(json.dumps(data).encode(), "doc.json").advisories
    return advisory


def _findings(os: OsRelease, data: dict[str, Any], *packages: PackageFact, host: str = "h1") -> tuple[Finding, ...]:
    return match(installs(host, os, packages), [_advisory(data)], VERSIONS)


# --- BSI / CERT-Bund: CPE and product names only ----------------------------------------------------------------------


def test_bsi_products_map_to_distributions_applications_and_other_systems() -> None:
    """Debian Linux and RHEL 9 map to distributions, Exim and OpenSSL to packages, Cisco IOS XE to another OS."""
    claims = {claim.name: claim for claim in _advisory(bsi_cpe_only()).products}
    assert (claims["Debian Linux"].kind, claims["Debian Linux"].distro) == (ProductKind.DISTRIBUTION, "debian")
    assert claims["Red Hat Enterprise Linux 9"].distro == "rhel-9"
    exim = claims["Open Source Exim <4.97.1"]
    assert (exim.kind, exim.deb, [(e.kind, e.version) for e in exim.events]) == (
        ProductKind.APPLICATION,
        ("exim4", "exim4-base", "exim4-daemon-light", "exim4-daemon-heavy"),
        [("introduced", "0"), ("fixed", "4.97.1")],
    )
    assert [(e.kind, e.version) for e in claims["Open Source OpenSSL <=3.0.13"].events][-1] == (
        "last_affected",
        "3.0.13",
    )
    assert claims["Cisco IOS XE"].kind is ProductKind.DISTRIBUTION
    assert _advisory(bsi_cpe_only()).unmapped == ()


def test_bsi_debian_product_makes_a_debian_host_unknown_never_unaffected() -> None:
    """A Debian host with nothing else named is UNKNOWN for 'Debian Linux', with the reason."""
    (finding,) = _findings(DEBIAN_12, bsi_cpe_only(), *fleet_packages())
    assert finding.status is FindingStatus.UNKNOWN
    assert finding.product == "Debian Linux"
    assert "without naming packages" in finding.reason
    assert finding.package == ""


def test_bsi_other_distribution_and_other_os_clear_a_host() -> None:
    """A RHEL 8 host without Exim or OpenSSL is cleared: facts prove it runs neither Debian, RHEL 9 nor IOS XE."""
    assert _findings(RHEL_8_10, bsi_cpe_only(), PackageFact(name="bash", version="4.4.20-4.el8_6")) == ()


def test_bsi_application_below_the_upstream_fix_is_unknown_with_backport_reason() -> None:
    """exim4 4.96-15+deb12u4 on RHEL-less Debian: upstream 4.96 < 4.97.1, so UNKNOWN (the fix may be backported)."""
    exim = PackageFact(name="exim4-daemon-light", version="4.96-15+deb12u4", source="exim4")
    findings = {f.product: f for f in _findings(DEBIAN_12, bsi_cpe_only(), *fleet_packages(exim))}
    finding = findings["Open Source Exim <4.97.1"]
    assert (finding.status, finding.package, finding.installed) == (
        FindingStatus.UNKNOWN,
        "exim4-daemon-light",
        "4.96-15+deb12u4",
    )
    assert "upstream version 4.96" in finding.reason
    assert "(fixed upstream in 4.97.1)" in finding.reason
    assert "backported" in finding.reason


def test_bsi_application_at_or_above_the_upstream_fix_is_cleared() -> None:
    """exim 4.97.1 (upstream fix) and OpenSSL 3.0.15 (> last affected 3.0.13) on RHEL 8 give no finding."""
    packages = (
        PackageFact(name="exim", version="4.97.1-1.el8"),
        PackageFact(name="openssl-libs", version="1:3.0.15-2.el8"),
    )
    assert _findings(RHEL_8_10, bsi_cpe_only(), *packages) == ()


def test_bsi_openssl_in_range_on_rhel_is_unknown() -> None:
    """openssl-libs 1:3.0.7-27.el8 is upstream 3.0.7, within <=3.0.13: UNKNOWN on RHEL 8."""
    (finding,) = _findings(RHEL_8_10, bsi_cpe_only(), PackageFact(name="openssl-libs", version="1:3.0.7-27.el8"))
    assert (finding.status, finding.package) == (FindingStatus.UNKNOWN, "openssl-libs")


def test_unmapped_product_makes_every_host_unknown_with_the_reason() -> None:
    """A product known by neither CPE mapping nor name makes any host UNKNOWN, saying why."""
    data = bsi_cpe_only(extra_products=(("Acme", "Widget Server", "Acme Widget Server 7", None),))
    advisory = _advisory(data)
    (unmapped,) = advisory.unmapped
    assert unmapped.name == "Acme Widget Server 7"
    assert "not in patchorch's product mapping" in unmapped.reason
    (finding,) = _findings(RHEL_8_10, data, PackageFact(name="bash", version="4.4.20-4.el8_6"))
    assert finding.product == "Acme Widget Server 7"
    assert finding.status is FindingStatus.UNKNOWN
    assert "cannot map" in finding.reason


def test_unknown_application_cpe_is_unmapped() -> None:
    """An application CPE outside the mapping (cpe:2.3 form) is unmapped, with the CPE in the reason."""
    cpe = "cpe:2.3:a:acme:widget_server:7.0:*:*:*:*:*:*:*"
    data = bsi_cpe_only(extra_products=(("Acme", "Widget", "Acme Widget 7.0", cpe),))
    (unmapped,) = _advisory(data).unmapped
    assert (unmapped.cpe, unmapped.reason) == (cpe, "CPE acme:widget_server is not in patchorch's product mapping")


# --- Red Hat streams -----------------------------------------------------------------------------------------------


def test_red_hat_fixes_stay_in_their_streams() -> None:
    """kernel gets one range per stream (rhel-8, rhel-9, rhel-8.6 EUS) and podman one for OpenShift's el9."""
    advisory = _advisory(red_hat_streams())
    fixed = {(p.name, p.distro): p.fixed_versions for p in advisory.affected}
    assert fixed == {
        ("kernel", "rhel-8"): ("4.18.0-553.30.1.el8_10",),
        ("kernel", "rhel-8.6"): ("4.18.0-372.131.1.el8_6",),
        ("kernel", "rhel-9"): ("5.14.0-427.42.1.el9_4",),
        ("podman", "rhel-9"): ("4.4.1-21.rhaos4.14.el9",),
    }
    assert advisory.products == ()


def test_rhel8_kernel_is_compared_with_the_el8_fix_only() -> None:
    """A RHEL 8.10 kernel below the el8 fix is affected with the el8 fix named, never the el9 one."""
    (finding,) = _findings(RHEL_8_10, red_hat_streams(), PackageFact(name="kernel", version="4.18.0-553.16.1.el8_10"))
    assert (finding.status, finding.fixed) == (FindingStatus.AFFECTED, "4.18.0-553.30.1.el8_10")
    assert _findings(RHEL_8_10, red_hat_streams(), PackageFact(name="kernel", version="4.18.0-553.30.1.el8_10")) == ()


def test_rhel9_podman_below_its_el9_fix_is_affected() -> None:
    """A RHEL 9 podman below the OpenShift el9 fix is found (it was missed when streams were merged)."""
    (finding,) = _findings(RHEL_9, red_hat_streams(), PackageFact(name="podman", version="4.4.1-20.rhaos4.14.el9"))
    assert (finding.package, finding.fixed) == ("podman", "4.4.1-21.rhaos4.14.el9")


def test_eus_host_is_compared_with_the_eus_fix() -> None:
    """A RHEL 8.6 host is on the EUS stream: its kernel at the EUS fix is not affected, below it is."""
    at_fix = PackageFact(name="kernel", version="4.18.0-372.131.1.el8_6")
    assert _findings(RHEL_8_6, red_hat_streams(), at_fix) == ()
    below = PackageFact(name="kernel", version="4.18.0-372.100.1.el8_6")
    (finding,) = _findings(RHEL_8_6, red_hat_streams(), below)
    assert finding.fixed == "4.18.0-372.131.1.el8_6"


def test_a_build_of_another_release_is_not_merged_into_the_range() -> None:
    """An el9 build listed under the el8 platform becomes a claim (hosts with the package UNKNOWN), not a fix."""
    data = red_hat_streams()
    component = data["product_tree"]["branches"][0]["branches"][1]["branches"][0]["product"]
    component["product_identification_helper"]["purl"] = "pkg:rpm/redhat/kernel@5.14.0-427.42.1.el9_4?arch=x86_64"
    advisory = _advisory(data)
    assert ("kernel", "rhel-8") not in {(p.name, p.distro) for p in advisory.affected}
    (claim,) = advisory.products
    assert "is a rhel-9 build, not one of rhel-8" in claim.reason
    (finding,) = _findings(RHEL_8_10, data, PackageFact(name="kernel", version="4.18.0-553.16.1.el8_10"))
    assert finding.status is FindingStatus.UNKNOWN


def test_rpm_package_without_any_release_is_a_claim_not_a_match_for_every_host() -> None:
    """An rpm purl with no distro, platform or el tag matches no range; hosts with it are UNKNOWN."""
    data = red_hat_streams()
    data["product_tree"].pop("relationships")
    data["product_tree"]["branches"][0]["branches"][1]["branches"][0]["product"]["product_identification_helper"][
        "purl"
    ] = "pkg:rpm/redhat/kernel@4.18.0?arch=x86_64"
    data["vulnerabilities"][0]["product_status"] = {"fixed": ["kernel-4.18.0-553.30.1.el8_10.x86_64"]}
    advisory = _advisory(data)
    assert advisory.affected == ()
    assert advisory.products[0].rpm == ("kernel",)


# --- Ubuntu USN and KEV -----------------------------------------------------------------------------------------------


def test_usn_ubuntu_cve_alias_correlates_with_kev() -> None:
    """The USN names CVE-2026-10001 only as UBUNTU-CVE-2026-10001; KEV marks the finding known exploited."""
    usn = _advisory(usn_with_ubuntu_cve_aliases())
    assert usn.cves == ("CVE-2026-10001",)
    openssl = PackageFact(name="libssl3", version="3.0.2-0ubuntu1.18", source="openssl")
    (finding,) = match(installs("u1", UBUNTU_22_04, [openssl]), [usn, *load_document(KEV).advisories], VERSIONS)
    assert finding.known_exploited
    assert finding.kev_due is not None
    assert finding.fixed == "3.0.2-0ubuntu1.19"


def test_the_distributions_own_advisory_decides_a_host_a_bsi_claim_names() -> None:
    """With Debian's record for the same CVE imported, the Debian host is decided by it, not left UNKNOWN by BSI."""
    dsa = {
        "id": "DSA-9001-1",
        "modified": "2026-11-30T12:00:00Z",
        "upstream": ["CVE-2026-30001"],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "exim4"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.96-15+deb12u5"}]}],
            }
        ],
    }
    import json

    advisories = [_advisory(bsi_cpe_only()), *parse_document(json.dumps(dsa).encode(), "dsa.json").advisories]
    exim = PackageFact(name="exim4-daemon-light", version="4.96-15+deb12u4", source="exim4")
    (finding,) = match(installs("mx1", DEBIAN_12, fleet_packages(exim)), advisories, VERSIONS)
    assert (finding.advisory, finding.status, finding.fixed) == (
        "DSA-9001-1",
        FindingStatus.AFFECTED,
        "4.96-15+deb12u5",
    )
    # On RHEL 9 the Debian record decides nothing: the BSI claim for RHEL 9 still leaves the host UNKNOWN.
    (rhel,) = match(installs("r9", RHEL_9, [PackageFact(name="bash", version="5.1.8-9.el9")]), advisories, VERSIONS)
    assert rhel.status is FindingStatus.UNKNOWN


@given(installed=host_installs())
@settings(max_examples=60, deadline=None)
def test_an_unmapped_product_leaves_every_host_unknown_never_cleared(installed: tuple[PackageInstall, ...]) -> None:
    """Whatever a host runs, a product that maps to nothing gives it exactly one UNKNOWN finding."""
    advisory = _advisory(bsi_cpe_only(extra_products=(("Acme", "Widget Server", "Acme Widget Server 7", None),)))
    findings = match(installed, [advisory], VERSIONS)
    unmapped = [f for f in findings if f.product == "Acme Widget Server 7"]
    assert sorted(f.host for f in unmapped) == sorted({i.host for i in installed})
    assert all(f.status is FindingStatus.UNKNOWN for f in findings)


@given(installed=host_installs())
@settings(max_examples=60, deadline=None)
def test_claims_never_make_a_host_affected(installed: tuple[PackageInstall, ...]) -> None:
    """A CPE-only advisory gives only UNKNOWN findings with a reason: it never proves a host affected or names a
    package version to install."""
    findings = match(installed, [_advisory(bsi_cpe_only())], VERSIONS)
    assert all(f.status is FindingStatus.UNKNOWN and f.reason and f.fixed is None for f in findings)
