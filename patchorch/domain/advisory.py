"""Advisories normalised from CSAF, CISA KEV and OSV, the installed-package facts they are matched against, and the
SSVC-style deployer decision that turns a match into an urgency.

Everything here is pure. Version ordering differs between package managers and needs libraries the domain may not
import, so `match` takes a `VersionComparator`; `patchorch.sources.versions` implements it for dpkg and rpm.

Matching follows the OSV evaluation rules: an affected package carries the events of one range (`introduced`,
`fixed`, `last_affected`, `limit`), sorted by version, and an installed version is affected when the last event at or
below it opened the range; explicitly listed `versions` are affected too. A package matches an installed one when the
ecosystem (deb or rpm) is the same, the distribution is the same (or the advisory names none), and the name equals the
installed binary package or its source package.

Streams: a package's `distro` is a distribution key (`debian-12`, `ubuntu-22.04`, `rhel-9`) or a Red Hat minor stream
(`rhel-8.6` for EUS/AUS/E4S/TUS). A host is compared only with the fixes of its own stream: the fixes for its exact
minor release when the advisory has any for that package (the host is on that EUS/AUS stream), otherwise the fixes for
its major release. Fixes of other releases are never merged into its range. A RHEL rebuild (Rocky, AlmaLinux) of
release N is compared with `rhel-N` fixes too (`OsRelease.rebuild_of`), main stream only: it has no EUS/AUS streams.

Products without packages: coordinators name products by CPE or name only (`ProductClaim`, mapped by
`patchorch.domain.products`). Such a claim never makes a host "not affected" by silence: a host whose distribution an
affected operating-system claim names, a host with a package of an affected application whose upstream version is in
(or cannot be placed against) the affected range, and every host for a product that maps to nothing, get an UNKNOWN
finding with the reason. A host is cleared only by proof: it runs another distribution, has no package of the
application, or its upstream version is at or above the fixed one. An operating system named by CPE is compared with
the host's OS CPE (`OsRelease.cpe`) where the host has one; see `_runs_os`. Where every CVE of a distribution or
application claim has a package-level advisory for the host's release (a DSA, USN or RHSA imported beside the BSI
document), those advisories decide the host and the claim adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from functools import cmp_to_key
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from patchorch.domain.fleet import Criticality, Exposure, Fleet
from patchorch.domain.products import (
    OS_CPES,
    RHEL_REBUILDS,
    derived_os_cpe,
    parse_cpe,
    same_os_version,
    stream_of,
    upstream_version,
)
from patchorch.domain.vulnerability import Decision, HostVulnerability

_FROZEN = ConfigDict(frozen=True, extra="forbid")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    # Text from advisories reaches terminals, logs and generated vars files: no control characters.
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


# Dates advisories carry are bounded so that adding any span the policy allows (at most MAX_SPAN_DAYS) or subtracting
# one from them cannot overflow in a later command: year 9999 is refused at import rather than crashing `exposure`.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


def _bounded_moment(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"year {value.year} is outside {EARLIEST_YEAR}..{LATEST_YEAR}")
    return value


def _bounded_day(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"year {value.year} is outside {EARLIEST_YEAR}..{LATEST_YEAR}")
    return value


Moment = Annotated[datetime, AfterValidator(_bounded_moment)]
Day = Annotated[date, AfterValidator(_bounded_day)]
Text = Annotated[str, Field(max_length=2000), AfterValidator(_printable)]
Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
CveId = Annotated[str, Field(pattern=r"^CVE-[0-9]{4}-[0-9]{4,}$", max_length=40)]
VersionText = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s]+$"), AfterValidator(_printable)]


class AdvisorySource(StrEnum):
    """The public format an advisory was read from."""

    CSAF = "csaf"
    KEV = "kev"
    OSV = "osv"


class Exploitation(StrEnum):
    """SSVC exploitation: no evidence, a public proof of concept, or active exploitation in the wild."""

    NONE = "none"
    POC = "poc"
    ACTIVE = "active"

    @property
    def rank(self) -> int:
        """0 for none ... 2 for active."""
        return list(Exploitation).index(self)


class Ecosystem(StrEnum):
    """Which package manager's version ordering applies."""

    DEB = "deb"
    RPM = "rpm"


class VersionComparator(Protocol):
    """Orders two versions of one ecosystem: negative, zero or positive; ValueError when one is not a version."""

    def compare(self, ecosystem: Ecosystem, left: str, right: str) -> int: ...


# Distribution families by the names Ansible facts, CSAF purls and OSV ecosystems use for them.
_FAMILY_ALIASES = {
    "redhat": "rhel",
    "red hat": "rhel",
    "red hat enterprise linux": "rhel",
    "enterprise_linux": "rhel",
    "rocky linux": "rocky",
    "oraclelinux": "ol",
    "oracle linux": "ol",
    "opensuse leap": "opensuse-leap",
    "suse linux enterprise server": "sles",
}
_DEB_FAMILIES = frozenset({"debian", "ubuntu", "raspbian", "linuxmint", "kali", "devuan"})
_RPM_FAMILIES = frozenset(
    {"rhel", "centos", "rocky", "almalinux", "fedora", "ol", "amazon", "opensuse-leap", "opensuse", "sles", "suse"}
)
# Ubuntu's releases are YY.MM; every other family is matched on its major version.
_FULL_VERSION_FAMILIES = frozenset({"ubuntu"})
_CODENAMES = {
    "buster": ("debian", "10"),
    "bullseye": ("debian", "11"),
    "bookworm": ("debian", "12"),
    "trixie": ("debian", "13"),
    "forky": ("debian", "14"),
    "focal": ("ubuntu", "20.04"),
    "jammy": ("ubuntu", "22.04"),
    "noble": ("ubuntu", "24.04"),
}


def distro_family(family: str) -> str:
    """`Debian` -> `debian`, `RedHat` -> `rhel`, `Rocky Linux` -> `rocky`."""
    name = family.strip().lower()
    return _FAMILY_ALIASES.get(name, name.replace(" ", "-"))


def distro_key(family: str, version: str | None) -> str:
    """The distribution as advisories and facts are compared: `debian-12`, `ubuntu-22.04`, `rhel-9`.

    A bare codename (`bookworm`) or an already formed key (`debian-12.5`) is accepted too.
    """
    if version is None:
        text = family.strip().lower()
        if text in _CODENAMES:
            family, version = _CODENAMES[text]
        else:
            head, sep, tail = text.rpartition("-")
            if not sep or not tail[:1].isdigit():
                return distro_family(text)
            family, version = head, tail
    name = distro_family(family)
    version = version.strip()
    if name not in _FULL_VERSION_FAMILIES:
        version = version.split(".", 1)[0]
    return f"{name}-{version}" if version else name


def ecosystem_of(family: str) -> Ecosystem | None:
    """deb for the Debian family, rpm for the Red Hat and SUSE families, None for anything else."""
    name = distro_family(family)
    if name in _DEB_FAMILIES:
        return Ecosystem.DEB
    if name in _RPM_FAMILIES:
        return Ecosystem.RPM
    return None


class RangeEvent(BaseModel):
    """One OSV-style event: versions from `introduced` are affected until `fixed` (exclusive) or `last_affected`."""

    model_config = _FROZEN

    kind: Literal["introduced", "fixed", "last_affected", "limit"]
    version: VersionText


class AffectedPackage(BaseModel):
    """One package of one distribution that an advisory affects, with the range of affected versions."""

    model_config = _FROZEN

    ecosystem: Ecosystem
    distro: Identifier | None = None
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9+.:_-]*$", max_length=200)]
    events: tuple[RangeEvent, ...] = Field(default=(), max_length=1000)
    versions: tuple[VersionText, ...] = Field(default=(), max_length=10000)
    cves: tuple[CveId, ...] = ()
    cvss: float | None = Field(default=None, ge=0, le=10)

    @property
    def fixed_versions(self) -> tuple[str, ...]:
        """Every version the advisory names as fixed, in document order."""
        return tuple(event.version for event in self.events if event.kind == "fixed")


class ProductKind(StrEnum):
    """What a product named without a package turned out to be."""

    DISTRIBUTION = "distribution"  # an operating system: decided by the host's distribution and release
    APPLICATION = "application"  # an upstream product shipped as packages: decided by the upstream version
    UNMAPPED = "unmapped"  # nothing patchorch can find in host facts


class ProductClaim(BaseModel):
    """What an advisory says about one product it names by CPE or name only, and what that product maps to.

    `distro` is a distribution family (`debian`: every release) or key (`debian-12`, `rhel-8.6`); `deb`/`rpm` are the
    package names (binary or source) of an application; `events`/`versions` are upstream versions, empty when the
    document names none; `reason` says why an UNMAPPED product could not be mapped.
    """

    model_config = _FROZEN

    product_id: Identifier
    name: Text
    cpe: Text | None = None
    status: Literal["affected", "under_investigation", "fixed", "not_affected"]
    kind: ProductKind
    distro: Identifier | None = None
    deb: tuple[Identifier, ...] = ()
    rpm: tuple[Identifier, ...] = ()
    events: tuple[RangeEvent, ...] = Field(default=(), max_length=1000)
    versions: tuple[VersionText, ...] = Field(default=(), max_length=1000)
    cves: tuple[CveId, ...] = ()
    reason: Text = ""

    @property
    def concerns_hosts(self) -> bool:
        """Whether the claim can make a host UNKNOWN: the product is affected or being investigated, or it is a fixed
        package whose fix cannot be compared (`reason` says why: no release named, a build of another release)."""
        if self.status in ("affected", "under_investigation"):
            return True
        return self.status == "fixed" and self.kind is ProductKind.APPLICATION and bool(self.reason)

    def describe(self) -> str:
        """`Open Source Exim <4.96.1 (cpe:/a:exim:exim:4.96.1)`."""
        return f"{self.name} ({self.cpe})" if self.cpe else self.name


class KevEntry(BaseModel):
    """One entry of CISA's Known Exploited Vulnerabilities catalogue."""

    model_config = _FROZEN

    cve: CveId
    vendor_project: Text
    product: Text
    date_added: Day
    due_date: Day
    required_action: Text
    short_description: Annotated[str, Field(max_length=20000), AfterValidator(_printable)] = ""
    known_ransomware: bool = False


class Advisory(BaseModel):
    """An advisory in one shape whatever its format: what it affects, how bad, and whether it is exploited.

    `revision` is the source's own version label (CSAF tracking.version, OSV modified, KEV catalogVersion);
    `revision_key` orders revisions of the same advisory so a newer one supersedes an older one.
    """

    model_config = _FROZEN

    id: Identifier
    source: AdvisorySource
    revision: Identifier
    revision_key: tuple[int, ...]
    title: Text = ""
    status: Literal["draft", "interim", "final"] = "final"
    published: Moment | None = None
    updated: Moment | None = None
    withdrawn: Moment | None = None
    cves: tuple[CveId, ...] = ()
    cvss: float | None = Field(default=None, ge=0, le=10)
    exploitation: Exploitation = Exploitation.NONE
    affected: tuple[AffectedPackage, ...] = ()
    kev: KevEntry | None = None
    # Product IDs the document names that became no package to match (each is described in `products`).
    unresolved: tuple[Identifier, ...] = Field(default=(), max_length=100_000)
    # What the document says about products it names without a package: decided per host, UNKNOWN unless proven.
    products: tuple[ProductClaim, ...] = Field(default=(), max_length=100_000)

    @property
    def unmapped(self) -> tuple[ProductClaim, ...]:
        """The claims about products that map to nothing patchorch knows."""
        return tuple(claim for claim in self.products if claim.kind is ProductKind.UNMAPPED)

    def same_content(self, other: Advisory) -> bool:
        """Whether two revisions say the same thing (ignoring the revision labels and the update time)."""
        ignore = {"revision", "revision_key", "updated"}
        return self.model_dump(exclude=ignore) == other.model_dump(exclude=ignore)


class PackageFact(BaseModel):
    """One installed package as gathered from a host: binary name, full version, architecture, source package."""

    model_config = _FROZEN

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
    version: VersionText
    arch: Annotated[str, Field(max_length=50), AfterValidator(_printable)] | None = None
    source: Annotated[str, Field(max_length=200), AfterValidator(_printable)] | None = None


def _is_os_cpe(value: str) -> bool:
    cpe = parse_cpe(value) if len(value) <= 200 and not _CONTROL.search(value) else None
    return cpe is not None and cpe.part == "o"


def _os_cpe(value: str) -> str:
    if not _is_os_cpe(value):
        raise ValueError("not the CPE of an operating system")
    return value


OsCpe = Annotated[str, AfterValidator(_os_cpe)]


class OsRelease(BaseModel):
    """The distribution a host runs, as the facts play reports it.

    `family` is Ansible's `distribution` (`debian`, `ubuntu`, `redhat`, `rocky`), `version` its major version, `release`
    the full version (`12.5`, `22.04`), `manager` the package database that listed the packages (`dpkg` or `rpm`).
    `cpe` is the host's OS CPE: `CPE_NAME` of /etc/os-release where the OS publishes one (`cpe_source` os-release),
    else derived from family and release for Debian and Ubuntu (`cpe_source` derived), else None.
    """

    model_config = _FROZEN

    family: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
    version: Annotated[str, Field(max_length=50), AfterValidator(_printable)] = ""
    release: Annotated[str, Field(max_length=50), AfterValidator(_printable)] = ""
    manager: Literal["dpkg", "rpm"] | None = None
    cpe: OsCpe | None = None
    cpe_source: Literal["os-release", "derived"] | None = None

    @property
    def distro(self) -> str:
        """`debian-12`, `ubuntu-22.04`, `rhel-9`."""
        family = distro_family(self.family)
        version = self.release if family in _FULL_VERSION_FAMILIES and self.release else self.version
        return distro_key(self.family, version or self.release)

    @property
    def stream(self) -> str | None:
        """`rhel-8.6` for a RHEL host on release 8.6 (its EUS/AUS stream, if the advisory has one); else None."""
        found = re.match(r"^(\d+)\.(\d+)", self.release)
        if distro_family(self.family) != "rhel" or found is None:
            return None
        return f"rhel-{found.group(1)}.{found.group(2)}"

    @property
    def rebuild_of(self) -> str | None:
        """`rhel-9` for a RHEL rebuild (Rocky, AlmaLinux) of release 9: RHEL 9's main-stream fixes apply to it."""
        family = distro_family(self.family)
        major = (self.version or self.release).split(".", 1)[0]
        return f"rhel-{major}" if family in RHEL_REBUILDS and major.isdigit() else None

    @property
    def ecosystem(self) -> Ecosystem | None:
        """The package format: from the package manager when known, else from the family; None when unknown."""
        if self.manager is not None:
            return Ecosystem.DEB if self.manager == "dpkg" else Ecosystem.RPM
        return ecosystem_of(self.family)


class HostFacts(BaseModel):
    """What the facts play reports for one host: `{os: {...}, manager: dpkg|rpm, os_cpe_name: ..., packages: [...]}`.

    `os_cpe_name` is `CPE_NAME` of the host's /etc/os-release as read ('' when it has none); it is the host's text, so
    one that is no CPE of an operating system is ignored rather than failing the host's facts.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    os: OsRelease
    manager: Literal["dpkg", "rpm"] | None = None
    os_cpe_name: str = ""
    packages: tuple[PackageFact, ...] = Field(default=(), max_length=100_000)

    @property
    def release(self) -> OsRelease:
        """The OS with the package manager and the OS CPE (published, else derived) filled in."""
        update: dict[str, Any] = {}
        if self.manager is not None and self.os.manager is None:
            update["manager"] = self.manager
        if self.os.cpe is None:
            published = self.os_cpe_name.strip()
            derived = derived_os_cpe(distro_family(self.os.family), self.os.version, self.os.release)
            if _is_os_cpe(published):
                update.update(cpe=published, cpe_source="os-release")
            elif derived is not None:
                update.update(cpe=derived, cpe_source="derived")
        return self.os.model_copy(update=update) if update else self.os


class PackageInstall(BaseModel):
    """A package installed on a host: the fact joined with the host's distribution."""

    model_config = _FROZEN

    host: str
    name: str
    version: str
    arch: str | None = None
    source: str | None = None
    distro: str
    ecosystem: Ecosystem | None
    # The minor-release stream (`rhel-8.6`) for families with EUS/AUS-style streams, else None.
    stream: str | None = None
    # The RHEL release (`rhel-9`) whose main-stream fixes apply to a rebuild (Rocky, AlmaLinux), else None.
    rebuild_of: str | None = None
    # The host's OS CPE (`OsRelease.cpe`), which decides advisories naming operating systems by CPE.
    os_cpe: str | None = None


def installs(host: str, os: OsRelease, packages: Iterable[PackageFact]) -> tuple[PackageInstall, ...]:
    """The facts of one host as `PackageInstall`s, sorted by package name and version."""
    result = (
        PackageInstall(
            host=host,
            name=fact.name,
            version=fact.version,
            arch=fact.arch,
            source=fact.source,
            distro=os.distro,
            ecosystem=os.ecosystem,
            stream=os.stream,
            rebuild_of=os.rebuild_of,
            os_cpe=os.cpe,
        )
        for fact in packages
    )
    return tuple(sorted(result, key=lambda p: (p.name, p.version, p.arch or "")))


class FindingStatus(StrEnum):
    """Affected, or cannot tell because a version does not parse."""

    AFFECTED = "affected"
    UNKNOWN = "unknown"


class Finding(BaseModel):
    """One advisory affecting one installed package on one host (or, UNKNOWN, a product it may run).

    `package`/`installed` are empty for a finding about a product that no installed package stands for (an operating
    system the host runs, a product patchorch cannot map); `product` then names the advisory's product.
    """

    model_config = _FROZEN

    host: str
    advisory: str
    source: AdvisorySource
    status: FindingStatus = FindingStatus.AFFECTED
    package: str
    installed: str
    fixed: str | None = None
    distro: str
    cves: tuple[str, ...] = ()
    cvss: float | None = None
    exploitation: Exploitation = Exploitation.NONE
    known_exploited: bool = False
    kev_due: date | None = None
    published: datetime | None = None
    product: str | None = None
    reason: str = ""


def _kev_index(advisories: Iterable[Advisory]) -> dict[str, KevEntry]:
    index: dict[str, KevEntry] = {}
    for advisory in advisories:
        if advisory.kev is not None and advisory.withdrawn is None:
            known = index.get(advisory.kev.cve)
            if known is None or advisory.kev.due_date < known.due_date:
                index[advisory.kev.cve] = advisory.kev
    return index


class _Unorderable(Exception):
    """A version that the comparator refuses."""


def _evaluate(
    ecosystem: Ecosystem,
    events: tuple[RangeEvent, ...],
    versions: tuple[str, ...],
    installed: str,
    comparator: VersionComparator,
) -> tuple[bool, str | None]:
    """Whether `installed` is in the range of `events` or listed in `versions`, and the first fixed version above it."""

    def compare(left: str, right: str) -> int:
        try:
            return comparator.compare(ecosystem, left, right)
        except ValueError as exc:
            raise _Unorderable(str(exc)) from None

    def event_order(a: RangeEvent, b: RangeEvent) -> int:
        # OSV: introduced "0" sorts before every version.
        if a.kind == "introduced" and a.version == "0":
            return 0 if (b.kind == "introduced" and b.version == "0") else -1
        if b.kind == "introduced" and b.version == "0":
            return 1
        return compare(a.version, b.version)

    affected = any(compare(installed, listed) == 0 for listed in versions)
    fixed: str | None = None
    if events:
        in_range = False
        for event in sorted(events, key=cmp_to_key(event_order)):
            zero = event.kind == "introduced" and event.version == "0"
            if event.kind == "limit" and compare(installed, event.version) >= 0:
                in_range = False
                break
            if event.kind == "introduced" and (zero or compare(installed, event.version) >= 0):
                in_range = True
            elif (event.kind == "fixed" and compare(installed, event.version) >= 0) or (
                event.kind == "last_affected" and compare(installed, event.version) > 0
            ):
                in_range = False
        affected = affected or in_range
        above = [e.version for e in events if e.kind == "fixed" and compare(e.version, installed) > 0]
        if above:
            fixed = min(above, key=cmp_to_key(compare))
    return affected, fixed


def _names(install: PackageInstall) -> set[str]:
    return {install.name} | ({install.source} if install.source else set())


def _own_stream(
    install: PackageInstall, candidates: list[tuple[Advisory, AffectedPackage]]
) -> list[tuple[Advisory, AffectedPackage]]:
    """The candidates of the install's own stream: its minor stream where an advisory has one, else its release.

    Fixes for another release or stream are never compared with the install, so el8 and el9 ranges stay apart.
    """
    by_advisory: dict[str, list[tuple[Advisory, AffectedPackage]]] = {}
    for advisory, package in candidates:
        by_advisory.setdefault(advisory.id, []).append((advisory, package))
    chosen: list[tuple[Advisory, AffectedPackage]] = []
    for items in by_advisory.values():
        minor = [item for item in items if install.stream is not None and item[1].distro == install.stream]
        main = [item for item in items if item[1].distro in (None, install.distro, install.rebuild_of)]
        chosen.extend(minor or main)
    return chosen


_RELEASE = re.compile(r"-([0-9][^-]*)$")


def release_of(distro: str) -> str:
    """The release of a distribution key: `debian-12` -> `12`, `rhel-8.6` -> `8.6`; '' for a bare family (`rhel`)."""
    found = _RELEASE.search(distro)
    return found.group(1) if found else ""


def _family(distro: str) -> str:
    """`debian-12` -> `debian`, `opensuse-leap-15` -> `opensuse-leap`."""
    return _RELEASE.sub("", distro)


def _distro_matches(claimed: str | None, install: PackageInstall) -> bool:
    """Whether a claim's distribution (a family, a release key or a minor stream) covers the install's host.

    A RHEL rebuild's host is covered by what covers RHEL of its release (`rebuild_of`) too.
    """
    if claimed is None:
        return True
    keys = [key for key in (install.distro, install.rebuild_of) if key is not None]
    return claimed in (*keys, install.stream) or claimed in {_family(key) for key in keys}


_KNOWN_FAMILIES = frozenset(OS_CPES.values())


def _runs_os(claim: ProductClaim, install: PackageInstall) -> bool | None:
    """Whether the install's host runs the operating system a distribution claim names; None when nothing can tell.

    The host's OS CPE decides where both sides have one: the same CPE vendor and product with a version that can be
    the host's runs it; a recorded CPE naming another product is proof of another OS, except where both map to the
    distribution table (RHEL's stream CPEs, a rebuild), which the release keys decide. An OS outside the table
    (`cpe:/o:centos:centos`) is ruled out without a host CPE only for a host whose facts name a mapped distribution.
    """
    claimed = parse_cpe(claim.cpe) if claim.cpe else None
    host = parse_cpe(install.os_cpe) if install.os_cpe else None
    if claimed is not None and claimed.part == "o" and host is not None:
        if (claimed.vendor, claimed.product) == (host.vendor, host.product):
            return same_os_version(claimed.version, host.version)
        if stream_of(claimed) is None or stream_of(host) is None:
            return False
    elif claim.distro is not None and ":" in claim.distro:  # `vendor:product` of an OS outside the table
        return False if _family(install.distro) in _KNOWN_FAMILIES else None
    return _distro_matches(claim.distro, install)


def _claim_findings(
    host: dict[str, list[PackageInstall]], first: PackageInstall, claim: ProductClaim, comparator: VersionComparator
) -> list[tuple[PackageInstall | None, str, str | None]]:
    """(install or None for the host itself, reason, fixed) for each way a claim leaves one host UNKNOWN.

    `host` indexes the host's installs by binary and source name; `first` is any one of them (distribution, host).
    """
    investigating = " (the advisory says it is under investigation)" if claim.status == "under_investigation" else ""
    if claim.kind is ProductKind.UNMAPPED:
        reason = f"names {claim.describe()}, which patchorch cannot map to a package or distribution"
        return [(None, reason + (f": {claim.reason}" if claim.reason else "") + investigating, None)]
    if claim.kind is ProductKind.DISTRIBUTION:
        runs = _runs_os(claim, first)
        if runs is None:
            reason = (
                f"names {claim.describe()} as affected; the facts record no OS CPE for {first.distro}, so patchorch "
                f"cannot tell whether the host runs it{investigating}"
            )
            return [(None, reason, None)]
        if not runs:
            return []
        recorded = f" (OS CPE {first.os_cpe})" if first.os_cpe else ""
        reason = (
            f"names {claim.describe()} as affected without naming packages; the host runs {first.distro}{recorded}; "
            f"check {first.distro}'s own advisory for the fixed packages{investigating}"
        )
        return [(None, reason, None)]
    if claim.distro is not None and not _distro_matches(claim.distro, first):
        return []
    names = set(claim.deb if first.ecosystem is Ecosystem.DEB else claim.rpm)
    result: list[tuple[PackageInstall | None, str, str | None]] = []
    seen: set[tuple[str, str]] = set()
    for install in (install for name in sorted(names) for install in host.get(name, ())):
        if (install.name, install.version) in seen:
            continue
        seen.add((install.name, install.version))
        upstream = upstream_version(install.version)
        if not claim.events and not claim.versions:
            if claim.reason:
                reason = f"names {claim.describe()} ({claim.status}) but cannot be compared: {claim.reason}"
            else:
                reason = f"names {claim.describe()} as affected in versions it does not state{investigating}"
            result.append((install, reason, None))
            continue
        try:
            in_range, fixed = _evaluate(Ecosystem.DEB, claim.events, claim.versions, upstream, comparator)
        except _Unorderable as exc:
            result.append((install, f"cannot place upstream {upstream} against {claim.describe()}: {exc}", None))
            continue
        if not in_range:
            continue  # proof: the upstream version already contains the fix
        upstream_fix = f" (fixed upstream in {fixed})" if fixed else ""
        reason = (
            f"upstream version {upstream} is in the range {claim.describe()} names as affected{upstream_fix}; the "
            f"distribution may have backported the fix, so check its advisory{investigating}"
        )
        # No `fixed`: an upstream version is no package version to install.
        result.append((install, reason, None))
    return result


def match(
    installed: Iterable[PackageInstall], advisories: Iterable[Advisory], comparator: VersionComparator
) -> tuple[Finding, ...]:
    """Every (host, advisory, package) where an installed version is affected, sorted by host, advisory, package.

    Withdrawn advisories match nothing. KEV entries name no packages; they mark the findings of other advisories that
    share a CVE as known exploited (active exploitation) and bring the KEV due date. A version the comparator cannot
    order gives an UNKNOWN finding rather than silence, and so does a product claim a host cannot be cleared of.
    """
    advisories = tuple(advisories)
    kev = _kev_index(advisories)
    by_name: dict[tuple[Ecosystem, str], list[tuple[Advisory, AffectedPackage]]] = {}
    claims: list[tuple[Advisory, ProductClaim]] = []
    for advisory in advisories:
        if advisory.withdrawn is not None:
            continue
        for package in advisory.affected:
            by_name.setdefault((package.ecosystem, package.name), []).append((advisory, package))
        claims.extend((advisory, claim) for claim in advisory.products if claim.concerns_hosts)
    # Which releases each CVE has a distribution's own package-level advisory for: such an advisory decides a host of
    # that release where another document only names the distribution or the upstream product.
    covered: dict[str, set[str]] = {}
    for advisory in advisories:
        if advisory.withdrawn is None:
            for package in advisory.affected:
                for cve in package.cves or advisory.cves:
                    covered.setdefault(cve, set()).add(package.distro or "")

    findings: dict[tuple[str, str, str, str], Finding] = {}

    def add(install: PackageInstall, advisory: Advisory, status: FindingStatus, **values: Any) -> None:
        cves = values.pop("cves", ()) or advisory.cves
        entries = [kev[cve] for cve in cves if cve in kev]
        finding = Finding(
            host=install.host,
            advisory=advisory.id,
            source=advisory.source,
            status=status,
            distro=install.distro,
            cves=tuple(sorted(cves)),
            exploitation=Exploitation.ACTIVE if entries else advisory.exploitation,
            known_exploited=bool(entries),
            kev_due=min((entry.due_date for entry in entries), default=None),
            published=advisory.published,
            **values,
        )
        key = (finding.host, finding.advisory, finding.package or f"({finding.product})", finding.installed)
        findings[key] = _worse(findings.get(key), finding)

    hosts: dict[str, list[PackageInstall]] = {}
    for install in installed:
        if install.ecosystem is None:
            continue
        hosts.setdefault(install.host, []).append(install)
        named = [
            (advisory, package)
            for name in sorted(_names(install))
            for advisory, package in by_name.get((install.ecosystem, name), ())
        ]
        candidates = [
            (advisory, package)
            for advisory, package in named
            if package.distro in (None, install.distro, install.stream, install.rebuild_of)
        ]
        own = _own_stream(install, candidates)
        decided = {advisory.id for advisory, _ in own}
        families = {_family(key) for key in (install.distro, install.rebuild_of) if key is not None}
        for advisory, package in named:
            # A package named for the host's distribution without a release: its fix belongs to no known release.
            if package.distro in families and advisory.id not in decided:
                decided.add(advisory.id)
                add(
                    install,
                    advisory,
                    FindingStatus.UNKNOWN,
                    package=install.name,
                    installed=install.version,
                    cves=package.cves,
                    cvss=package.cvss if package.cvss is not None else advisory.cvss,
                    reason=f"names {package.name} for {package.distro} without a release, so its fix cannot be "
                    f"placed against {install.distro}",
                )
        for advisory, package in own:
            try:
                affected, fixed = _evaluate(
                    package.ecosystem, package.events, package.versions, install.version, comparator
                )
                status, reason = FindingStatus.AFFECTED, ""
            except _Unorderable as exc:
                affected, fixed = True, None
                status, reason = FindingStatus.UNKNOWN, f"cannot order versions: {exc}"
            if affected:
                add(
                    install,
                    advisory,
                    status,
                    package=install.name,
                    installed=install.version,
                    fixed=fixed,
                    cves=package.cves,
                    cvss=package.cvss if package.cvss is not None else advisory.cvss,
                    reason=reason,
                )
    for host in hosts.values():
        first = host[0]
        releases = {first.distro, first.stream, first.rebuild_of}
        index: dict[str, list[PackageInstall]] = {}
        for install in host:
            for name in _names(install):
                index.setdefault(name, []).append(install)
        for advisory, claim in claims:
            cves = claim.cves or advisory.cves
            if claim.kind is not ProductKind.UNMAPPED and cves and all(covered.get(c, set()) & releases for c in cves):
                continue  # the distribution's own advisories for these CVEs decide this host
            for package_install, reason, fixed in _claim_findings(index, first, claim, comparator):
                add(
                    package_install or first,
                    advisory,
                    FindingStatus.UNKNOWN,
                    package=package_install.name if package_install else "",
                    installed=package_install.version if package_install else "",
                    fixed=fixed,
                    cves=claim.cves,
                    cvss=advisory.cvss,
                    product=claim.name,
                    reason=reason,
                )
    return tuple(findings[key] for key in sorted(findings))


def _worse(old: Finding | None, new: Finding) -> Finding:
    """Two ranges of one advisory may both cover a package: keep the affected one, then one with a fix to name."""
    if old is None:
        return new
    if old.status is FindingStatus.UNKNOWN and new.status is FindingStatus.AFFECTED:
        return new
    if old.fixed is None and new.fixed is not None and new.status is old.status:
        return new
    return old


# The deployer decision, SSVC style, from exploitation x exposure x criticality.
# Exposure maps to SSVC's system exposure (internet = open, partner/internal = controlled, isolated = small) with
# partner one step above internal; criticality stands for mission and well-being impact. Rows never get less urgent
# when exploitation, exposure or criticality rises (tests check this).
#
#   exploitation  exposure    low           medium        high          critical
#   none          isolated    defer         defer         defer         scheduled
#   none          internal    defer         defer         scheduled     scheduled
#   none          partner     defer         scheduled     scheduled     scheduled
#   none          internet    scheduled     scheduled     scheduled     out-of-cycle
#   poc           isolated    defer         defer         scheduled     scheduled
#   poc           internal    defer         scheduled     scheduled     out-of-cycle
#   poc           partner     scheduled     scheduled     out-of-cycle  out-of-cycle
#   poc           internet    scheduled     out-of-cycle  out-of-cycle  immediate
#   active        isolated    scheduled     scheduled     out-of-cycle  out-of-cycle
#   active        internal    scheduled     out-of-cycle  out-of-cycle  immediate
#   active        partner     out-of-cycle  out-of-cycle  immediate     immediate
#   active        internet    out-of-cycle  immediate     immediate     immediate
_D, _S, _O, _I = Decision.DEFER, Decision.SCHEDULED, Decision.OUT_OF_CYCLE, Decision.IMMEDIATE
DECISION_TABLE: Mapping[tuple[Exploitation, Exposure], tuple[Decision, Decision, Decision, Decision]] = {
    (Exploitation.NONE, Exposure.ISOLATED): (_D, _D, _D, _S),
    (Exploitation.NONE, Exposure.INTERNAL): (_D, _D, _S, _S),
    (Exploitation.NONE, Exposure.PARTNER): (_D, _S, _S, _S),
    (Exploitation.NONE, Exposure.INTERNET): (_S, _S, _S, _O),
    (Exploitation.POC, Exposure.ISOLATED): (_D, _D, _S, _S),
    (Exploitation.POC, Exposure.INTERNAL): (_D, _S, _S, _O),
    (Exploitation.POC, Exposure.PARTNER): (_S, _S, _O, _O),
    (Exploitation.POC, Exposure.INTERNET): (_S, _O, _O, _I),
    (Exploitation.ACTIVE, Exposure.ISOLATED): (_S, _S, _O, _O),
    (Exploitation.ACTIVE, Exposure.INTERNAL): (_S, _O, _O, _I),
    (Exploitation.ACTIVE, Exposure.PARTNER): (_O, _O, _I, _I),
    (Exploitation.ACTIVE, Exposure.INTERNET): (_O, _I, _I, _I),
}


def decide(exploitation: Exploitation, exposure: Exposure, criticality: Criticality) -> Decision:
    """How urgently to patch, from the table above."""
    return DECISION_TABLE[(Exploitation(exploitation), Exposure(exposure))][Criticality(criticality).rank]


def host_vulnerabilities(
    findings: Iterable[Finding], fleet: Fleet, imported: Mapping[str, datetime] | None = None
) -> dict[str, HostVulnerability]:
    """The worst of the findings per host of the fleet: highest CVSS, any KEV entry, most urgent decision, earliest
    disclosure (an advisory's publication, else its time of import from `imported`, by advisory ID).

    Findings for hosts the fleet does not know are left out (there is no exposure or criticality to decide with).
    """
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.host in fleet:
            grouped.setdefault(finding.host, []).append(finding)
    result = {}
    for name in sorted(grouped):
        host = fleet.get(name)
        items = grouped[name]
        scores = [f.cvss for f in items if f.cvss is not None]
        decisions = [decide(f.exploitation, host.exposure, host.criticality) for f in items]
        dues = [f.kev_due for f in items if f.kev_due is not None]
        disclosures = [when for f in items if (when := disclosed(f, imported)) is not None]
        result[name] = HostVulnerability(
            host=name,
            advisories=tuple(sorted({f.advisory for f in items})),
            cves=tuple(sorted({cve for f in items for cve in f.cves})),
            max_cvss=max(scores) if scores else None,
            known_exploited=any(f.known_exploited for f in items),
            decision=min(decisions, key=lambda d: d.rank),
            kev_due=min(dues) if dues else None,
            disclosed=min(disclosures) if disclosures else None,
        )
    return result


def disclosed(finding: Finding, imported: Mapping[str, datetime] | None = None) -> datetime | None:
    """When the finding's advisory became known: its publication, else when it was imported (None: neither known)."""
    if finding.published is not None:
        return finding.published
    return imported.get(finding.advisory) if imported is not None else None
