"""CPE 2.3 / 2.2 parsing and the documented product mapping (patchorch.domain.products)."""

from __future__ import annotations

import json

import pytest

from patchorch.domain.advisory import Ecosystem
from patchorch.domain.products import (
    APPLICATIONS,
    DOVECOT,
    EXIM,
    KERNEL,
    OPENSSL,
    POSTFIX,
    Cpe,
    application_by_name,
    os_by_name,
    parse_cpe,
    stream_of,
    upstream_version,
)
from patchorch.sources.advisories import parse_document
from patchorch.sources.advisories.csaf import _distro_of_version, distro_of_cpe
from patchorch.sources.advisories.osv import _ecosystem
from tests.advisories.documents import usn_with_ubuntu_cve_aliases


def test_cpe_23_formatted_string_with_escapes() -> None:
    """A 2.3 formatted string is split on unescaped colons and unescaped."""
    cpe = parse_cpe(r"cpe:2.3:a:exim:exim:4.97\.1:*:*:*:*:*:*:*")
    assert cpe == Cpe("a", "exim", "exim", "4.97.1")


def test_cpe_22_uri_with_percent_encoding_and_packed_edition() -> None:
    """A 2.2 URI is percent-decoded; a packed `~` edition yields target_sw."""
    assert parse_cpe("cpe:/o:redhat:enterprise_linux:9::baseos") == Cpe(
        "o", "redhat", "enterprise_linux", "9", "", "baseos"
    )
    packed = parse_cpe("cpe:/a:acme:tool%21:1.0::~~~linux~~")
    assert packed is not None
    assert (packed.product, packed.target_sw) == ("tool!", "linux")


@pytest.mark.parametrize(
    "text", ["", "cpe:2.3:a:exim", "cpe:/x:exim:exim", "cpe:/a:*:exim", "not a cpe", "cpe:/a:" + "a" * 3000]
)
def test_cpe_that_names_no_product_is_none(text: str) -> None:
    """Truncated, wrong-part, ANY-vendor and oversized CPEs parse to None."""
    assert parse_cpe(text) is None


@pytest.mark.parametrize(
    ("cpe", "distro"),
    [
        ("cpe:/o:debian:debian_linux:12", "debian-12"),
        ("cpe:2.3:o:debian:debian_linux:12.8:*:*:*:*:*:*:*", "debian-12"),
        ("cpe:/o:canonical:ubuntu_linux:22.04::~~lts~~~", "ubuntu-22.04"),
        ("cpe:/o:redhat:enterprise_linux:9::baseos", "rhel-9"),
        ("cpe:/a:redhat:enterprise_linux:8::appstream", "rhel-8"),
        ("cpe:/o:redhat:rhel_eus:8.6::baseos", "rhel-8.6"),
        ("cpe:/a:redhat:rhel_aus:8.2::appstream", "rhel-8.2"),
        ("cpe:/a:redhat:rhel_e4s:9.0::appstream", "rhel-9.0"),
        ("cpe:/a:redhat:openshift:4.14::el9", "rhel-9"),
        ("cpe:/a:redhat:openshift:4.12::el8", "rhel-8"),
        ("cpe:/o:suse:sles:15:sp5", "sles-15"),
        ("cpe:/o:rocky:rocky:9::baseos", "rocky-9"),
        ("cpe:/o:almalinux:almalinux:8::baseos", "almalinux-8"),
        ("cpe:/o:debian:debian_linux:-", None),
        ("cpe:/a:exim:exim:4.97", None),
    ],
)
def test_distribution_cpes_map_to_streams(cpe: str, distro: str | None) -> None:
    """Debian, Ubuntu, RHEL (EUS/AUS/E4S, OpenShift el8/el9), SLES, Rocky and AlmaLinux CPEs (as their os-release
    publishes them) give the stream a host is compared on."""
    assert distro_of_cpe(cpe) == distro


def test_stream_of_names_family_without_release() -> None:
    """An OS CPE without a version names the family with an empty release."""
    cpe = parse_cpe("cpe:/o:debian:debian_linux:-")
    assert cpe is not None
    assert stream_of(cpe) == ("debian", "")


@pytest.mark.parametrize(
    ("ecosystem", "version", "distro"),
    [
        (Ecosystem.RPM, "4.18.0-553.30.1.el8_10", "rhel-8"),
        (Ecosystem.RPM, "5.14.0-427.42.1.el9_4", "rhel-9"),
        (Ecosystem.RPM, "4.4.1-21.rhaos4.14.el9", "rhel-9"),
        (Ecosystem.DEB, "3.0.15-1~deb12u1", "debian-12"),
        (Ecosystem.DEB, "4.94.2-7+deb11u4", "debian-11"),
        (Ecosystem.DEB, "3.0.2-0ubuntu1.19", None),
        (Ecosystem.RPM, "1.0-1", None),
    ],
)
def test_build_tags_name_their_release(ecosystem: Ecosystem, version: str, distro: str | None) -> None:
    """`.elN` and `debNuM` tags name the release a build belongs to."""
    assert _distro_of_version(ecosystem, version) == distro


@pytest.mark.parametrize(
    ("key", "application", "deb", "rpm"),
    [
        (("postfix", "postfix"), POSTFIX, "postfix", "postfix"),
        (("exim", "exim"), EXIM, "exim4", "exim"),
        (("dovecot", "dovecot"), DOVECOT, "dovecot", "dovecot"),
        (("openssl", "openssl"), OPENSSL, "openssl", "openssl-libs"),
        (("linux", "linux_kernel"), KERNEL, "linux", "kernel"),
    ],
)
def test_application_cpes_map_to_package_names(key: tuple[str, str], application: object, deb: str, rpm: str) -> None:
    """Postfix, Exim, Dovecot, OpenSSL and the kernel map to their Debian source and RHEL package names."""
    assert APPLICATIONS[key] is application
    assert deb in APPLICATIONS[key].deb
    assert rpm in APPLICATIONS[key].rpm


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Debian Linux", "debian"),
        ("Red Hat Enterprise Linux", "rhel"),
        ("SUSE Linux Enterprise Server", "sles"),
        ("Ubuntu  Linux", "ubuntu"),
        ("Cisco IOS XE", None),
    ],
)
def test_operating_system_names(name: str, family: str | None) -> None:
    """BSI's product names for distributions map to families; anything else to None."""
    assert os_by_name(name) == family


def test_application_names_drop_the_open_source_vendor() -> None:
    """ "Open Source Exim" and "Linux Kernel" are Exim and the kernel; "Acme Widget" is nothing."""
    assert application_by_name("Open Source Exim") is EXIM
    assert application_by_name("Linux Kernel") is KERNEL
    assert application_by_name("Acme Widget") is None


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("1:3.0.11-1~deb12u2", "3.0.11"),
        ("4.96-15+deb12u4", "4.96"),
        ("2.3.19.1+dfsg1-2.1+deb12u1", "2.3.19.1"),
        ("4.18.0-553.30.1.el8_10", "4.18.0"),
        ("1:3.0.7-27.el8", "3.0.7"),
        ("3.7.11", "3.7.11"),
    ],
)
def test_upstream_version_drops_epoch_revision_and_repack_suffix(version: str, upstream: str) -> None:
    """The upstream part of dpkg and rpm versions."""
    assert upstream_version(version) == upstream


@pytest.mark.parametrize(
    ("ecosystem", "distro"),
    [
        ("Red Hat:enterprise_linux:9::appstream", "rhel-9"),
        ("Red Hat:rhel_eus:8.6::baseos", "rhel-8.6"),
        ("SUSE:Linux Enterprise Server 15 SP5", "sles-15"),
        ("openSUSE:Leap 15.5", "opensuse-leap-15"),
        ("Debian:12", "debian-12"),
        ("Ubuntu:22.04:LTS", "ubuntu-22.04"),
        ("Ubuntu:Pro:18.04:LTS", "ubuntu-18.04"),
        ("Debian", None),
        ("Red Hat", None),
    ],
)
def test_osv_ecosystems_name_the_stream(ecosystem: str, distro: str | None) -> None:
    """OSV's Red Hat (EUS included), SUSE, openSUSE, Debian and Ubuntu ecosystems give the host-side stream key."""
    result = _ecosystem(ecosystem)
    assert result is not None
    assert result[1] == distro


def test_osv_package_without_release_is_a_claim_not_a_range_for_every_host() -> None:
    """An OSV `Red Hat` entry with no release becomes a claim: hosts with the package are UNKNOWN, none matched."""
    record = usn_with_ubuntu_cve_aliases()
    record["affected"][0]["package"] = {"ecosystem": "Red Hat", "name": "openssl"}
    (advisory,) = parse_document(json.dumps(record).encode(), "osv.json").advisories
    assert advisory.affected == ()
    (claim,) = advisory.products
    assert (claim.rpm, claim.reason) == (("openssl",), "the ecosystem 'Red Hat' names no release to compare with")
