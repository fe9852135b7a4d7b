"""OSV records (the Open Source Vulnerability schema, ossf.github.io/osv-schema) for distribution packages.

Only operating-system ecosystems are normalised: `Debian[:N]` and `Ubuntu:N[:LTS]` (deb); `Red Hat`, `AlmaLinux`,
`Rocky Linux`, `openSUSE`, `SUSE` (rpm). Entries for language ecosystems (PyPI, npm ...) are valid but match nothing.
Each `ECOSYSTEM` range becomes one affected package with the range's events; `SEMVER` and `GIT` ranges do not describe
distribution versions and are skipped. A record with `withdrawn` set is kept (it supersedes the earlier revision) but
matches nothing. The revision is `modified`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from patchorch.domain.advisory import (
    Advisory,
    AdvisorySource,
    AffectedPackage,
    Ecosystem,
    Moment,
    ProductClaim,
    ProductKind,
    RangeEvent,
    distro_key,
)
from patchorch.errors import AdvisoryError
from patchorch.sources.advisories._cvss import base_score
from patchorch.sources.advisories._document import Strict, problem
from patchorch.sources.advisories.csaf import distro_of_cpe

_MAX = 100_000
Version = Annotated[str, Field(min_length=1, max_length=200)]


class OsvEvent(Strict):
    """One event of a range: exactly one of introduced, fixed, last_affected, limit."""

    introduced: Version | None = None
    fixed: Version | None = None
    last_affected: Version | None = None
    limit: Version | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OsvEvent:
        present = [name for name in ("introduced", "fixed", "last_affected", "limit") if getattr(self, name)]
        if len(present) != 1:
            raise ValueError("an event has exactly one of introduced, fixed, last_affected, limit")
        return self

    def as_range_event(self) -> RangeEvent:
        """The domain's form of the event."""
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            value = getattr(self, kind)
            if value:
                return RangeEvent(kind=kind, version=value)
        raise AssertionError("validated to have one event")


class OsvRange(Strict):
    """A range of affected versions."""

    type: Literal["ECOSYSTEM", "SEMVER", "GIT"]
    repo: str | None = None
    events: Annotated[tuple[OsvEvent, ...], Field(min_length=1, max_length=10_000)]


class OsvPackage(Strict):
    """The affected package."""

    ecosystem: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=500)]
    purl: str | None = None


class OsvSeverity(Strict):
    """A severity score; CVSS_V3 carries a vector."""

    type: Annotated[str, Field(min_length=1, max_length=50)]
    score: Annotated[str, Field(min_length=1, max_length=500)]


class OsvAffected(Strict):
    """One affected package with its ranges and versions."""

    package: OsvPackage | None = None
    severity: Annotated[tuple[OsvSeverity, ...], Field(max_length=100)] | None = None
    ranges: Annotated[tuple[OsvRange, ...], Field(max_length=10_000)] | None = None
    versions: Annotated[tuple[Version, ...], Field(max_length=_MAX)] | None = None


class OsvRecord(Strict):
    """An OSV record."""

    schema_version: str | None = None
    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")]
    modified: Moment
    published: Moment | None = None
    withdrawn: Moment | None = None
    aliases: Annotated[tuple[Annotated[str, Field(max_length=200)], ...], Field(max_length=10_000)] | None = None
    related: Annotated[tuple[Annotated[str, Field(max_length=200)], ...], Field(max_length=10_000)] | None = None
    upstream: Annotated[tuple[Annotated[str, Field(max_length=200)], ...], Field(max_length=10_000)] | None = None
    summary: Annotated[str, Field(max_length=10_000)] | None = None
    details: str | None = None
    severity: Annotated[tuple[OsvSeverity, ...], Field(max_length=100)] | None = None
    affected: Annotated[tuple[OsvAffected, ...], Field(max_length=_MAX)] | None = None
    database_specific: dict[str, Any] | None = None


_CVE_ALIAS = re.compile(r"^(?:[A-Z]+-)?(CVE-[0-9]{4}-[0-9]{4,})$")
_RPM_ECOSYSTEMS = {
    "red hat": "rhel",
    "almalinux": "almalinux",
    "rocky linux": "rocky",
    "opensuse": "opensuse",
    "suse": "sles",
}


def _ecosystem(name: str) -> tuple[Ecosystem, str | None] | None:
    """`Debian:12` -> (deb, debian-12); `Ubuntu:22.04:LTS` -> (deb, ubuntu-22.04); `Rocky Linux:9` -> (rpm, rocky-9);
    `Red Hat:rhel_eus:8.6::baseos` -> (rpm, rhel-8.6); `SUSE:Linux Enterprise Server 15 SP5` -> (rpm, sles-15);
    `openSUSE:Leap 15.5` -> (rpm, opensuse-leap-15). The release is None when the ecosystem names none."""
    family, _, rest = name.partition(":")
    release = rest.split(":", 1)[0] if rest else ""
    lowered = family.strip().lower()
    if lowered in ("debian", "ubuntu"):
        # `Ubuntu:Pro:18.04:LTS` puts the release after a qualifier; a bare `Debian` names none.
        numbered = [part for part in rest.split(":") if part[:1].isdigit()]
        return Ecosystem.DEB, distro_key(lowered, numbered[0]) if numbered else None
    if lowered == "red hat":
        # "Red Hat:enterprise_linux:9::appstream" is a CPE without its prefix: the stream reads like the CPE's.
        return Ecosystem.RPM, distro_of_cpe(f"cpe:/o:redhat:{rest}") if rest else None
    if lowered in _RPM_ECOSYSTEMS:
        key = _RPM_ECOSYSTEMS[lowered]
        if lowered == "opensuse":
            key = "opensuse-tumbleweed" if "tumbleweed" in release.lower() else "opensuse-leap"
        match = re.search(r"\d+", release)
        return Ecosystem.RPM, distro_key(key, match.group(0)) if match else None
    return None


def _cvss(severity: tuple[OsvSeverity, ...] | None) -> float | None:
    scores = []
    for item in severity or ():
        if item.type in ("CVSS_V2", "CVSS_V3", "CVSS_V3.1", "CVSS_V3.0", "CVSS_V4"):
            try:
                scores.append(base_score(item.score))
            except ValueError:
                continue
    return max(scores) if scores else None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def to_advisories(record: OsvRecord, file: str) -> tuple[Advisory, ...]:
    """The record as one Advisory."""
    # Debian's DSA records name their CVEs under `related` and `upstream` rather than `aliases`.
    # Ubuntu's USN records name them only as `UBUNTU-CVE-...` (Debian's tracker as `DEBIAN-CVE-...`): the CVE inside
    # is what KEV and the other sources use.
    linked = (*(record.aliases or ()), *(record.upstream or ()), *(record.related or ()), record.id)
    cves = tuple(sorted({found.group(1) for alias in linked if (found := _CVE_ALIAS.match(alias))}))
    record_cvss = _cvss(record.severity)
    affected = []
    claims: list[ProductClaim] = []
    for index, entry in enumerate(record.affected or ()):
        if entry.package is None:
            continue
        ecosystem = _ecosystem(entry.package.ecosystem)
        if ecosystem is None:
            continue
        kind, distro = ecosystem
        cvss = _cvss(entry.severity) or record_cvss
        where: tuple[int | str, ...] = ("affected", index, "package", "name")
        if distro is None:
            # No release to compare with: hosts with the package are UNKNOWN rather than matched on every release.
            claims.append(_no_release(entry.package, kind, index, cves))
            continue
        try:
            for range_ in entry.ranges or ():
                if range_.type != "ECOSYSTEM":
                    continue
                affected.append(
                    AffectedPackage(
                        ecosystem=kind,
                        distro=distro,
                        name=entry.package.name,
                        events=tuple(event.as_range_event() for event in range_.events),
                        cves=cves,
                        cvss=cvss,
                    )
                )
            if entry.versions:
                affected.append(
                    AffectedPackage(
                        ecosystem=kind,
                        distro=distro,
                        name=entry.package.name,
                        versions=entry.versions,
                        cves=cves,
                        cvss=cvss,
                    )
                )
        except ValueError as exc:
            message = f"not a usable package: {_short(exc)}"
            raise AdvisoryError([problem(file, where, message, entry.package.name)]) from None
    modified = record.modified if record.modified.tzinfo else record.modified.replace(tzinfo=UTC)
    title = (record.summary or record.id).replace("\n", " ")[:2000]
    try:
        advisory = Advisory(
            id=record.id,
            source=AdvisorySource.OSV,
            revision=modified.isoformat(),
            revision_key=(int(modified.timestamp() * 1_000_000),),
            title=re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", title),
            published=_utc(record.published),
            updated=modified,
            withdrawn=_utc(record.withdrawn),
            cves=cves,
            cvss=max([p.cvss for p in affected if p.cvss is not None], default=record_cvss),
            products=tuple(claims),
            unresolved=tuple(claim.product_id for claim in claims),
            affected=tuple(affected),
        )
    except ValueError as exc:
        raise AdvisoryError([problem(file, ("id",), f"cannot be read: {_short(exc)}", record.id)]) from None
    return (advisory,)


def _no_release(package: OsvPackage, kind: Ecosystem, index: int, cves: tuple[str, ...]) -> ProductClaim:
    name = package.name[:200]
    return ProductClaim(
        product_id=f"affected/{index}",
        name=f"{name} ({package.ecosystem[:100]})",
        status="affected",
        kind=ProductKind.APPLICATION,
        deb=(name,) if kind is Ecosystem.DEB else (),
        rpm=(name,) if kind is Ecosystem.RPM else (),
        cves=cves,
        reason=f"the ecosystem {package.ecosystem[:100]!r} names no release to compare with",
    )


def _short(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first["msg"])
    return str(exc)
