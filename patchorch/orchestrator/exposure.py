"""Advisory intake and exposure: import advisory files, match them against stored package facts, and say per host
what is affected, how urgently (the SSVC-style decision), by when and who owns it.

A host whose facts are missing, older than `max_fact_age`, list no package or name no release is reported UNKNOWN,
never "not affected": nobody can say what is installed there. So is every host for an advisory that names nothing
patchorch can match (a KEV entry alone). `advisory_targets` gives `rollout --advisory ID` its targets, update and
risk inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from patchorch.domain.advisory import (
    Advisory,
    Exploitation,
    Finding,
    FindingStatus,
    PackageInstall,
    ProductKind,
    VersionComparator,
    decide,
    host_vulnerabilities,
    match,
    release_of,
)
from patchorch.domain.fleet import Fleet, Host, Lifecycle
from patchorch.domain.plan import PackageSpec, UpdateScope, UpdateSpec
from patchorch.domain.policy import Policy
from patchorch.domain.risk import assess
from patchorch.domain.vulnerability import DEFAULT_MAX_FACT_AGE, Decision, HostVulnerability
from patchorch.errors import PlanError
from patchorch.sources.advisories import LoadedDocument, documents_in, load_document
from patchorch.sources.versions import PackageVersions
from patchorch.store.advisories import AdvisoryStore, ImportOutcome, StoredAdvisory

# How old package facts may be before a host's exposure is UNKNOWN, unless the caller says otherwise.


class AdvisoryRepository(Protocol):
    """What exposure needs from the store (`patchorch.store.advisories.AdvisoryStore` is the real one)."""

    def list(self) -> tuple[StoredAdvisory, ...]: ...

    def all_facts(
        self, hosts: Iterable[str] | None = None
    ) -> dict[str, tuple[tuple[PackageInstall, ...], datetime]]: ...


# --- import ----------------------------------------------------------------------------------------------------------


class UnmappedProduct(BaseModel):
    """A product an imported document names that patchorch could not map to a package of a distribution release."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    advisory: str
    product_id: str
    name: str
    cpe: str | None = None
    kind: ProductKind
    reason: str = ""


class ImportReport(BaseModel):
    """What importing some files did: the documents read, each advisory's outcome, and the products not mapped.

    `products` lists every affected (or investigated) product that is no package of a distribution release: those
    are decided per host by distribution or upstream version, or (kind `unmapped`) make every host UNKNOWN.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    documents: tuple[str, ...]
    outcomes: tuple[ImportOutcome, ...]
    products: tuple[UnmappedProduct, ...] = ()

    @property
    def unmapped(self) -> int:
        """How many products map to nothing patchorch knows."""
        return sum(1 for product in self.products if product.kind is ProductKind.UNMAPPED)

    def count(self, status: str) -> int:
        """How many advisories had this outcome."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def import_advisories(paths: Sequence[Path], store: AdvisoryStore, *, now: datetime) -> ImportReport:
    """Read every advisory file of `paths` (files, or directories of `*.json`), then store them.

    All files are validated before anything is stored: one bad file raises AdvisoryError and nothing is imported.
    """
    files: list[Path] = []
    for path in paths:
        files.extend(documents_in(path))
    if not files:
        raise PlanError(f"no advisory files (*.json) in {', '.join(str(p) for p in paths)}")
    loaded: list[LoadedDocument] = [load_document(file) for file in files]
    outcomes: list[ImportOutcome] = []
    for document in loaded:
        outcomes.extend(
            store.import_(
                document.advisories,
                document_hash=document.sha256,
                document_path=document.path,
                imported_at=now,
            )
        )
    products = tuple(
        UnmappedProduct(
            advisory=advisory.id,
            product_id=claim.product_id,
            name=claim.name,
            cpe=claim.cpe,
            kind=claim.kind,
            reason=claim.reason,
        )
        for document in loaded
        for advisory in document.advisories
        for claim in advisory.products
        if claim.concerns_hosts
    )
    return ImportReport(
        documents=tuple(document.path for document in loaded), outcomes=tuple(outcomes), products=products
    )


# --- exposure --------------------------------------------------------------------------------------------------------


class ExposureStatus(StrEnum):
    """Per host: affected by an advisory, not affected by any, or unknown (no or stale facts, unorderable versions)."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not-affected"
    UNKNOWN = "unknown"
    DECOMMISSIONED = "decommissioned"  # known to the inventory, not running: neither exposed nor unknown


class ExposureRow(BaseModel):
    """One line of the exposure report: a host and one advisory affecting one of its packages (or why none/unknown)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    owner_team: str | None = None
    owner_contact: str | None = None
    status: ExposureStatus
    advisory: str | None = None
    cves: tuple[str, ...] = ()
    product: str | None = None
    package: str | None = None
    installed: str | None = None
    fixed: str | None = None
    cvss: float | None = None
    exploitation: Exploitation | None = None
    known_exploited: bool = False
    decision: Decision | None = None
    risk_class: str | None = None
    due: date | None = None
    facts_gathered_at: datetime | None = None
    reason: str = ""


class ExposureReport(BaseModel):
    """Exposure of a fleet at `generated_at`, optionally for one advisory (ID or CVE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generated_at: datetime
    advisory: str | None = None
    max_fact_age: timedelta
    rows: tuple[ExposureRow, ...] = ()

    @property
    def affected_hosts(self) -> tuple[str, ...]:
        """Hosts with at least one affected package."""
        return tuple(sorted({row.host for row in self.rows if row.status is ExposureStatus.AFFECTED}))

    @property
    def unknown_hosts(self) -> tuple[str, ...]:
        """Hosts whose exposure nobody can tell."""
        return tuple(sorted({row.host for row in self.rows if row.status is ExposureStatus.UNKNOWN}))

    def to_json_data(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the affected and unknown host lists."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data["affected_hosts"] = list(self.affected_hosts)
        data["unknown_hosts"] = list(self.unknown_hosts)
        return data


def _selected(advisories: Sequence[Advisory], wanted: str | None) -> tuple[set[str], set[str]] | None:
    """(advisory IDs, CVEs) that `wanted` names: an advisory ID (its CVEs too) or a CVE; None when nothing matches."""
    if wanted is None:
        return None
    ids: set[str] = set()
    cves: set[str] = set()
    for advisory in advisories:
        if advisory.id == wanted:
            ids.add(advisory.id)
            cves.update(advisory.cves)
    if not ids and any(wanted in advisory.cves for advisory in advisories):
        cves.add(wanted)
    if not ids and not cves:
        raise PlanError(f"no advisory or CVE {wanted!r} in the store (import it with `patchorch advisories import`)")
    return ids, cves


def _undecidable(advisories: Sequence[Advisory], selection: tuple[set[str], set[str]] | None) -> str:
    """Why no host can be decided for the selected advisory or CVE ('' when one can): every live advisory it selects
    (a KEV entry alone) names neither a package nor a product patchorch matches."""
    if selection is None:
        return ""
    ids, cves = selection
    chosen = [a for a in advisories if a.id in ids or cves.intersection(a.cves)]
    live = [a for a in chosen if a.withdrawn is None]
    if not live or any(a.affected or any(claim.concerns_hosts for claim in a.products) for a in live):
        return ""  # a withdrawn advisory affects nobody; one with packages or products decides hosts
    named = "; ".join(f"CISA KEV lists {a.kev.vendor_project} {a.kev.product}" for a in live if a.kev is not None)
    wanted = ", ".join(sorted(cves or ids))
    return (
        f"no imported advisory for {wanted} names a package or product patchorch can match"
        + (f" ({named})" if named else "")
        + "; import the distribution's advisory to decide the host"
    )


def _wanted(finding: Finding, selection: tuple[set[str], set[str]] | None) -> bool:
    if selection is None:
        return True
    ids, cves = selection
    return finding.advisory in ids or bool(cves.intersection(finding.cves))


def _due(
    finding: Finding,
    decision: Decision,
    sla: Mapping[Decision, timedelta] | None,
    now: datetime,
    class_sla: timedelta | None = None,
) -> date | None:
    """The earliest of the KEV due date, publication + the decision's SLA, publication + the risk class's SLA."""
    dues = [finding.kev_due] if finding.kev_due else []
    start = finding.published or now
    if sla and decision in sla:
        dues.append((start + sla[decision]).date())
    if class_sla is not None:
        dues.append((start + class_sla).date())
    return min(dues) if dues else None


def _risk_class(host: Host, finding: Finding, decision: Decision, policy: Policy) -> tuple[str, timedelta]:
    """The host's risk class under `policy` with this finding as its vulnerability input, and that class's SLA."""
    vulnerability = HostVulnerability(
        host=host.name,
        advisories=(finding.advisory,),
        cves=finding.cves,
        max_cvss=finding.cvss,
        known_exploited=finding.known_exploited,
        decision=decision,
    )
    name = assess(host, policy, vulnerability).risk_class
    return name, policy.classes[name].sla


def _freshness(
    host: str,
    facts: Mapping[str, tuple[tuple[PackageInstall, ...], datetime]],
    now: datetime,
    max_fact_age: timedelta,
) -> str:
    """Why the host's facts cannot be used, or '' when they can."""
    if host not in facts:
        return "no package facts (run `patchorch facts refresh`)"
    packages, gathered_at = facts[host]
    if now - gathered_at > max_fact_age:
        return f"package facts from {gathered_at.isoformat(timespec='minutes')} are older than {max_fact_age}"
    if not packages:
        # An empty list proves nothing: the package database was unreadable or the facts were cut short.
        return f"the facts gathered {gathered_at.isoformat(timespec='minutes')} list no installed packages"
    if all(package.ecosystem is None for package in packages):
        return f"distribution {packages[0].distro} is not supported for advisory matching"
    if not release_of(packages[0].distro):
        return f"the facts name distribution {packages[0].distro} without its release, so no fix can be placed"
    return ""


class _Assessment(NamedTuple):
    findings: tuple[Finding, ...]
    unknown: dict[str, str]
    facts: dict[str, tuple[tuple[PackageInstall, ...], datetime]]
    advisories: tuple[Advisory, ...]
    # Why no host without a finding can be cleared for the selected advisory ('' when the advisory can clear hosts).
    undecidable: str


def _assess(
    fleet: Fleet,
    store: AdvisoryRepository,
    *,
    advisory: str | None,
    now: datetime,
    max_fact_age: timedelta,
    comparator: VersionComparator,
) -> _Assessment:
    advisories = tuple(stored.advisory for stored in store.list())
    selection = _selected(advisories, advisory)
    facts = store.all_facts([host.name for host in fleet])
    unknown = {host.name: reason for host in fleet if (reason := _freshness(host.name, facts, now, max_fact_age))}
    installed = [package for name, (packages, _) in facts.items() if name not in unknown for package in packages]
    findings = tuple(f for f in match(installed, advisories, comparator) if _wanted(f, selection))
    return _Assessment(findings, unknown, facts, advisories, _undecidable(advisories, selection))


def _with_owner(finding: Finding, host: Host) -> str:
    """A product finding's reason with the owner who can say whether the host runs the product."""
    if finding.product is None:
        return finding.reason
    if host.owner is None:
        return f"{finding.reason}; {host.name} has no owner in the inventory to ask"
    contact = f" <{host.owner.contact}>" if host.owner.contact else ""
    return f"{finding.reason}; ask the owner, {host.owner.team}{contact}"


def _owner(host: Host) -> dict[str, str | None]:
    if host.owner is None:
        return {"owner_team": None, "owner_contact": None}
    return {"owner_team": host.owner.team, "owner_contact": host.owner.contact}


def exposure(
    fleet: Fleet,
    store: AdvisoryRepository,
    *,
    advisory: str | None = None,
    now: datetime,
    max_fact_age: timedelta = DEFAULT_MAX_FACT_AGE,
    sla: Mapping[Decision, timedelta] | None = None,
    comparator: VersionComparator | None = None,
    policy: Policy | None = None,
) -> ExposureReport:
    """Every host of the fleet and what affects it: a row per (advisory, package), or one NOT_AFFECTED/UNKNOWN row.

    `advisory` narrows to one advisory ID or CVE (PlanError when the store has neither). With a `policy`, each
    affected host gets the risk class the planner would give it for this finding, and that class's SLA sets a due
    date. The due date is the earliest of the KEV due date, publication + `sla[decision]` and publication + the
    class SLA.
    """
    result = _assess(
        fleet,
        store,
        advisory=advisory,
        now=now,
        max_fact_age=max_fact_age,
        comparator=comparator or PackageVersions(),
    )
    by_host: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_host.setdefault(finding.host, []).append(finding)
    rows: list[ExposureRow] = []
    for host in fleet:
        owner = _owner(host)
        gathered = result.facts[host.name][1] if host.name in result.facts else None
        if host.lifecycle is Lifecycle.DECOMMISSIONED:
            rows.append(
                ExposureRow(
                    host=host.name, status=ExposureStatus.DECOMMISSIONED, reason="lifecycle is decommissioned", **owner
                )
            )
            continue
        if host.name in result.unknown:
            rows.append(
                ExposureRow(
                    host=host.name,
                    status=ExposureStatus.UNKNOWN,
                    facts_gathered_at=gathered,
                    reason=result.unknown[host.name],
                    **owner,
                )
            )
            continue
        findings = by_host.get(host.name, [])
        if not findings:
            status = ExposureStatus.UNKNOWN if result.undecidable else ExposureStatus.NOT_AFFECTED
            rows.append(
                ExposureRow(
                    host=host.name, status=status, facts_gathered_at=gathered, reason=result.undecidable, **owner
                )
            )
            continue
        for finding in findings:
            decision = decide(finding.exploitation, host.exposure, host.criticality)
            unknown = finding.status is FindingStatus.UNKNOWN
            risk_class, class_sla = _risk_class(host, finding, decision, policy) if policy else (None, None)
            rows.append(
                ExposureRow(
                    host=host.name,
                    status=ExposureStatus.UNKNOWN if unknown else ExposureStatus.AFFECTED,
                    advisory=finding.advisory,
                    cves=finding.cves,
                    product=finding.product,
                    package=finding.package or None,
                    installed=finding.installed or None,
                    fixed=finding.fixed,
                    cvss=finding.cvss,
                    exploitation=finding.exploitation,
                    known_exploited=finding.known_exploited,
                    decision=decision,
                    risk_class=risk_class,
                    due=_due(finding, decision, sla, now, class_sla),
                    facts_gathered_at=gathered,
                    reason=_with_owner(finding, host),
                    **owner,
                )
            )
    return ExposureReport(generated_at=now, advisory=advisory, max_fact_age=max_fact_age, rows=tuple(rows))


# --- rollout --advisory ----------------------------------------------------------------------------------------------


class AdvisoryTargets(NamedTuple):
    """What `rollout --advisory ID` patches: the affected hosts, the update, the planner's risk inputs, the urgency."""

    targets: set[str]
    update: UpdateSpec
    vulnerabilities: dict[str, HostVulnerability]
    decision: Decision | None


def advisory_targets(
    store: AdvisoryRepository,
    fleet: Fleet,
    advisory_id: str,
    now: datetime,
    *,
    max_fact_age: timedelta = DEFAULT_MAX_FACT_AGE,
    comparator: VersionComparator | None = None,
) -> AdvisoryTargets:
    """The hosts an advisory (ID or CVE) affects and the update that fixes them.

    The update installs each affected package at least at its fixed version; when the fixed version differs between
    the targets (different distributions) the package is updated to the newest available instead. Hosts with missing
    or stale facts are not targets: `exposure(..., advisory=ID)` lists them as UNKNOWN. PlanError when the advisory is
    not stored, or no affected package has a fixed version.
    """
    result = _assess(
        fleet,
        store,
        advisory=advisory_id,
        now=now,
        max_fact_age=max_fact_age,
        comparator=comparator or PackageVersions(),
    )
    affected = [f for f in result.findings if f.status is FindingStatus.AFFECTED and f.host in fleet]
    fixes: dict[str, set[str]] = {}
    for finding in affected:
        if finding.fixed is not None:
            fixes.setdefault(finding.package, set()).add(finding.fixed)
    if affected and not fixes:
        raise PlanError(f"advisory {advisory_id} names no fixed version for the affected packages: nothing to install")
    try:
        packages = tuple(
            PackageSpec(name=name, at_least=next(iter(versions)) if len(versions) == 1 else None)
            for name, versions in sorted(fixes.items())
        )
    except ValidationError as exc:
        raise PlanError(
            f"advisory {advisory_id} names a package or version patchorch will not pass on: {exc}"
        ) from None
    targets = {f.host for f in affected if f.package in fixes}
    update = UpdateSpec(scope=UpdateScope.PACKAGES, packages=packages, advisory=advisory_id)
    vulnerabilities = host_vulnerabilities([f for f in affected if f.host in targets], fleet)
    decisions = [v.decision for v in vulnerabilities.values() if v.decision is not None]
    decision = min(decisions, key=lambda d: d.rank) if decisions else None
    return AdvisoryTargets(targets=targets, update=update, vulnerabilities=vulnerabilities, decision=decision)


def hosts_without_facts(
    store: AdvisoryRepository, fleet: Fleet, now: datetime, *, max_fact_age: timedelta = DEFAULT_MAX_FACT_AGE
) -> dict[str, str]:
    """Hosts of the fleet whose package facts are missing or stale, with the reason."""
    facts = store.all_facts([host.name for host in fleet])
    return {host.name: reason for host in fleet if (reason := _freshness(host.name, facts, now, max_fact_age))}
