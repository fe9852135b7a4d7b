"""Products as advisories name them (CPE identifiers and product names) mapped to what host facts record.

Advisories of coordinators (BSI/CERT-Bund, Cisco, older Red Hat documents) identify products by CPE or by name only,
never by package. This module says what such a product is in terms of host facts:

* an **operating system** (a distribution and, when given, its release): `cpe:/o:debian:debian_linux:12`,
  `cpe:2.3:o:redhat:enterprise_linux:9:*:*:*:*:*:*:*`, "Red Hat Enterprise Linux 9", "SUSE Linux Enterprise Server";
* an **application** shipped as distribution packages (Postfix, Exim, Dovecot, OpenSSL, the Linux kernel ...):
  `cpe:/a:exim:exim:4.96.1`, "Open Source Exim <4.96.1"; its package names per package format are listed below;
* or **nothing patchorch knows** (a router's firmware, a Windows product): such a product is reported, never ignored.

Both CPE bindings are read: the 2.3 formatted string (`cpe:2.3:part:vendor:product:version:update:edition:language:
sw_edition:target_sw:target_hw:other`, `\\`-escaped) and the 2.2 URI (`cpe:/part:vendor:product:version:update:edition`,
percent-encoded), as NIST IR 7695 defines them. Red Hat's stream CPEs name the stream in the product (`rhel_eus`,
`rhel_aus`, `rhel_e4s`, `rhel_tus`) with the minor release as version, and OpenShift's name the RHEL major in a later
field (`cpe:/a:redhat:openshift:4.14::el9`); `stream_of` turns them into the distribution keys matching uses.

The mapping tables (`OS_CPES`, `OS_NAMES`, `APPLICATIONS`) are the documented contract; docs/ADVISORIES.md shows them
as a table and tests/advisories/test_products.py checks each entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

Part = Literal["o", "a", "h", "*"]

_ANY = ("", "*", "-", "ANY", "NA")


@dataclass(frozen=True)
class Cpe:
    """The fields of a CPE name that matching reads (lower case, unescaped; '' for ANY or NA)."""

    part: Part
    vendor: str
    product: str
    version: str = ""
    update: str = ""
    edition: str = ""
    target_sw: str = ""
    other: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field after the product, for the stream markers Red Hat puts in different places."""
        return (self.version, self.update, self.edition, self.target_sw, self.other)


def _unescape_fs(value: str) -> str:
    # 2.3 formatted string: `\` quotes the next character; `*` and `-` alone mean ANY and NA.
    return re.sub(r"\\(.)", r"\1", value)


def _split_fs(text: str) -> list[str]:
    fields, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def parse_cpe(text: str) -> Cpe | None:
    """A CPE 2.3 formatted string or 2.2 URI as `Cpe`; None for anything that is neither (or names no product)."""
    text = text.strip()
    if len(text) > 2000:
        return None
    lowered = text.lower()
    if lowered.startswith("cpe:2.3:"):
        raw = _split_fs(text[8:])
        if len(raw) != 11:
            return None
        values = [_unescape_fs(v).lower() for v in raw]
        part, vendor, product, version, update, edition, _lang, _sw, target_sw, _hw, other = values
    elif lowered.startswith("cpe:/"):
        raw = text[5:].split(":")
        if len(raw) > 7:
            return None
        raw += [""] * (7 - len(raw))
        values = [unquote(v).lower() for v in raw]
        part, vendor, product, version, update, edition, _lang = values
        # A 2.2 edition may pack the 2.3 extended fields as `~edition~sw_edition~target_sw~target_hw~other`.
        target_sw = other = ""
        if edition.startswith("~"):
            packed = [*edition.split("~")[1:], "", "", "", "", ""]
            edition, target_sw, other = packed[0], packed[2], packed[4]
    else:
        return None
    if part not in ("o", "a", "h") or vendor in _ANY or product in _ANY:
        return None
    clean = [("" if v in ("*", "-") else v) for v in (version, update, edition, target_sw, other)]
    return Cpe(part, vendor, product, *clean)  # type: ignore[arg-type]


# --- operating systems ---------------------------------------------------------------------------------------------

# (CPE vendor, product) -> distribution family as `patchorch.domain.advisory.distro_family` names it.
OS_CPES: dict[tuple[str, str], str] = {
    ("debian", "debian_linux"): "debian",
    ("canonical", "ubuntu_linux"): "ubuntu",
    ("redhat", "enterprise_linux"): "rhel",
    ("redhat", "red_hat_enterprise_linux"): "rhel",
    ("redhat", "rhel"): "rhel",
    ("redhat", "rhel_eus"): "rhel",
    ("redhat", "rhel_aus"): "rhel",
    ("redhat", "rhel_e4s"): "rhel",
    ("redhat", "rhel_tus"): "rhel",
    ("redhat", "rhel_els"): "rhel",
    ("suse", "linux_enterprise_server"): "sles",
    ("suse", "suse_linux_enterprise_server"): "sles",
    ("suse", "sles"): "sles",
    ("rocky", "rocky"): "rocky",  # Rocky's /etc/os-release CPE_NAME
    ("rocky", "rocky_linux"): "rocky",
    ("rockylinux", "rocky_linux"): "rocky",
    ("almalinux", "almalinux"): "almalinux",
    ("fedoraproject", "fedora"): "fedora",
    ("oracle", "linux"): "ol",
}
# RHEL rebuilds: built from RHEL's sources with the same package versions per major release, so RHEL's advisories
# (their main-stream fixes: a rebuild has no EUS/AUS streams) apply to them. A deliberate mapping, see
# docs/ADVISORIES.md. Oracle Linux is not one of them: it ships its own kernel and its own advisories (ELSA).
RHEL_REBUILDS = frozenset({"rocky", "almalinux"})
# Red Hat stream products whose version is a minor release (8.6) that the host must run to be on that stream.
MINOR_STREAMS = frozenset({"rhel_eus", "rhel_aus", "rhel_e4s", "rhel_tus"})

# Lower-case product names (BSI writes "Red Hat Enterprise Linux", "Debian Linux") -> distribution family.
OS_NAMES: dict[str, str] = {
    "debian linux": "debian",
    "debian gnu/linux": "debian",
    "debian": "debian",
    "ubuntu linux": "ubuntu",
    "canonical ubuntu linux": "ubuntu",
    "ubuntu": "ubuntu",
    "red hat enterprise linux": "rhel",
    "red hat enterprise linux eus": "rhel",
    "rhel": "rhel",
    "suse linux enterprise server": "sles",
    "suse linux enterprise": "sles",
    "suse linux": "sles",
    "sles": "sles",
    "rocky linux": "rocky",
    "almalinux": "almalinux",
    "oracle linux": "ol",
    "fedora": "fedora",
}

_EL = re.compile(r"(?:^|[^a-z0-9])el(\d{1,2})(?:[_.]\d+)?(?:$|[^0-9])")


def stream_of(cpe: Cpe) -> tuple[str, str] | None:
    """The distribution family and release a CPE of an operating system (or Red Hat stream product) names.

    `cpe:/o:redhat:enterprise_linux:9::baseos` -> (rhel, 9); `cpe:/a:redhat:rhel_eus:8.6::appstream` -> (rhel, 8.6);
    `cpe:/a:redhat:openshift:4.14::el9` -> (rhel, 9); `cpe:/o:debian:debian_linux:12` -> (debian, 12). The release is
    '' when the CPE names none. None for a CPE that names no distribution.
    """
    family = OS_CPES.get((cpe.vendor, cpe.product))
    if family is not None:
        version = cpe.version
        if cpe.product not in MINOR_STREAMS and family != "ubuntu":
            version = version.split(".", 1)[0]
        return family, version
    if cpe.vendor == "redhat":
        # OpenShift, Satellite and other layered products name the RHEL major they are built for (`el9`).
        for value in cpe.fields:
            match = _EL.search(value)
            if match:
                return "rhel", match.group(1)
    return None


def derived_os_cpe(family: str, version: str, release: str) -> str | None:
    """The OS CPE of a distribution that publishes none in /etc/os-release, from its family and release.

    Debian and Ubuntu set no `CPE_NAME`; NVD names them `debian:debian_linux` with the major release and
    `canonical:ubuntu_linux` with the YY.MM release: `(debian, 12, 12.8)` -> `cpe:/o:debian:debian_linux:12`,
    `(ubuntu, 22, 22.04)` -> `cpe:/o:canonical:ubuntu_linux:22.04`. None for any other family or a missing release.
    `family` is a normalised family (`patchorch.domain.advisory.distro_family`).
    """
    if family == "debian":
        major = (version or release).split(".", 1)[0]
        return f"cpe:/o:debian:debian_linux:{major}" if major.isdigit() else None
    if family == "ubuntu":
        return f"cpe:/o:canonical:ubuntu_linux:{release}" if re.fullmatch(r"\d{2}\.\d{2}", release) else None
    return None


def same_os_version(claimed: str, host: str) -> bool:
    """Whether a CPE version an advisory names can be the host's: equal, or one a dotted prefix of the other.

    `9` covers a host at `9` or `9.2`; `9.2` cannot be ruled out for a host whose CPE says only `9`; `8` is not `9`.
    An empty side (ANY) rules nothing out.
    """
    if not claimed or not host or claimed == host:
        return True
    return host.startswith(claimed + ".") or claimed.startswith(host + ".")


# --- applications ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """An upstream product and the package names (binary or source) distributions ship it as."""

    name: str
    deb: tuple[str, ...]
    rpm: tuple[str, ...]


POSTFIX = Application("Postfix", deb=("postfix",), rpm=("postfix",))
EXIM = Application("Exim", deb=("exim4", "exim4-base", "exim4-daemon-light", "exim4-daemon-heavy"), rpm=("exim",))
DOVECOT = Application("Dovecot", deb=("dovecot", "dovecot-core"), rpm=("dovecot",))
OPENSSL = Application("OpenSSL", deb=("openssl", "libssl3", "libssl1.1", "libssl3t64"), rpm=("openssl", "openssl-libs"))
KERNEL = Application("Linux kernel", deb=("linux", "linux-signed-amd64", "linux-image"), rpm=("kernel", "kernel-core"))
OPENSSH = Application("OpenSSH", deb=("openssh", "openssh-server", "openssh-client"), rpm=("openssh", "openssh-server"))
SUDO = Application("sudo", deb=("sudo",), rpm=("sudo",))
GLIBC = Application("GNU C Library", deb=("glibc", "libc6"), rpm=("glibc",))

# (CPE vendor, product) -> application. `linux:linux_kernel` is an `o` CPE in NVD but is shipped as packages.
APPLICATIONS: dict[tuple[str, str], Application] = {
    ("postfix", "postfix"): POSTFIX,
    ("exim", "exim"): EXIM,
    ("dovecot", "dovecot"): DOVECOT,
    ("openssl", "openssl"): OPENSSL,
    ("linux", "linux_kernel"): KERNEL,
    ("openbsd", "openssh"): OPENSSH,
    ("sudo_project", "sudo"): SUDO,
    ("todd_miller", "sudo"): SUDO,
    ("gnu", "glibc"): GLIBC,
    ("gnu", "gnu_c_library"): GLIBC,
}

# Lower-case product names after a vendor prefix like "Open Source" is removed.
APPLICATION_NAMES: dict[str, Application] = {
    "postfix": POSTFIX,
    "exim": EXIM,
    "dovecot": DOVECOT,
    "openssl": OPENSSL,
    "linux kernel": KERNEL,
    "linux": KERNEL,
    "kernel": KERNEL,
    "openssh": OPENSSH,
    "sudo": SUDO,
    "glibc": GLIBC,
    "gnu c library": GLIBC,
}

_VENDOR_PREFIXES = ("open source ", "opensource ", "the ")


def os_by_name(name: str) -> str | None:
    """The distribution family a product name denotes ("Red Hat Enterprise Linux" -> rhel), or None."""
    return OS_NAMES.get(" ".join(name.lower().split()))


def application_by_name(name: str) -> Application | None:
    """The application a product name denotes ("Open Source Exim" -> Exim), or None."""
    text = " ".join(name.lower().split())
    for prefix in _VENDOR_PREFIXES:
        text = text.removeprefix(prefix)
    return APPLICATION_NAMES.get(text)


def upstream_version(version: str) -> str:
    """The upstream part of a dpkg or rpm version: `1:3.0.11-1~deb12u2` -> `3.0.11`, `4.18.0-477.el8` -> `4.18.0`.

    The epoch and the packaging revision (after the last `-`) are dropped, then repacking suffixes (`+dfsg1`, `~rc1`).
    """
    text = version.split(":", 1)[1] if re.match(r"^\d+:", version) else version
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    return re.split(r"[+~]", text, maxsplit=1)[0] or text
