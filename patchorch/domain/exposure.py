"""Exposure, decided: which hosts an advisory affects, how urgently, by when, and whose facts are too old to say.

Pure: the orchestrator reads advisories and package facts from the store and hands them here. A host whose facts are
missing, older than `max_fact_age`, list no package or name no release is UNKNOWN, never "not affected": nobody can
say what is installed there. So is every host for an advisory that names nothing patchorch can match (a KEV entry
alone). Due dates follow the one rule of `patchorch.domain.due`: the SLA counts from the advisory's disclosure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from patchorch.domain.advisory import (
    Advisory,
    Exploitation,
    Finding,
    FindingStatus,
    PackageInstall,
    decide,
    disclosed,
    host_vulnerabilities,
    release_of,
)
from patchorch.domain.due import due_at
from patchorch.domain.fleet import Fleet, Host, Lifecycle, owner_fields
from patchorch.domain.plan import PackageSpec, UpdateScope, UpdateSpec
from patchorch.domain.policy import Policy
from patchorch.domain.risk import assess
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import PlanError

# Each host's installed packages and when they were gathered, as the store keeps them.
HostFacts = Mapping[str, tuple[tuple[PackageInstall, ...], datetime]]
# The advisory IDs and CVEs a `--advisory ID|CVE` selects.
Selection = tuple[set[str], set[str]]


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

    def affected_by(self, advisory: Advisory) -> tuple[ExposureRow, ...]:
        """The affected rows `advisory` accounts for: its own, and for a KEV entry (which names no package) those of
        the advisories that share one of its CVEs."""
        kev_cves = set(advisory.cves) if advisory.kev is not None else set()
        return tuple(
            row
            for row in self.rows
            if row.status is ExposureStatus.AFFECTED and (row.advisory == advisory.id or kev_cves & set(row.cves))
        )

    def to_json_data(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the affected and unknown host lists."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data["affected_hosts"] = list(self.affected_hosts)
        data["unknown_hosts"] = list(self.unknown_hosts)
        return data


def select(advisories: Sequence[Advisory], wanted: str | None) -> Selection | None:
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


def undecidable(advisories: Sequence[Advisory], selection: Selection | None) -> str:
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


def selected(finding: Finding, selection: Selection | None) -> bool:
    if selection is None:
        return True
    ids, cves = selection
    return finding.advisory in ids or bool(cves.intersection(finding.cves))


def due_date(
    finding: Finding,
    decision: Decision,
    *,
    now: datetime,
    sla: Mapping[Decision, timedelta] | None = None,
    class_sla: timedelta | None = None,
    imported: Mapping[str, datetime] | None = None,
) -> date | None:
    """The UTC day by which the finding is due: the earliest of the KEV due date and the disclosure (publication,
    else import, else `now`) plus the decision's SLA and plus the risk class's SLA; None with none of them."""
    slas = [span for span in ((sla or {}).get(decision), class_sla) if span is not None]
    due = due_at(*slas, known_at=now, disclosed=disclosed(finding, imported), kev_due=finding.kev_due)
    return due.date() if due is not None else None


def risk_class(host: Host, finding: Finding, decision: Decision, policy: Policy) -> tuple[str, timedelta]:
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


def freshness(
    host: str,
    facts: HostFacts,
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


def _with_owner(finding: Finding, host: Host) -> str:
    """A product finding's reason with the owner who can say whether the host runs the product."""
    if finding.product is None:
        return finding.reason
    if host.owner is None:
        return f"{finding.reason}; {host.name} has no owner in the inventory to ask"
    contact = f" <{host.owner.contact}>" if host.owner.contact else ""
    return f"{finding.reason}; ask the owner, {host.owner.team}{contact}"


def exposure_rows(
    fleet: Fleet,
    findings: Sequence[Finding],
    facts: HostFacts,
    unknown: Mapping[str, str],
    *,
    now: datetime,
    undecided: str = "",
    sla: Mapping[Decision, timedelta] | None = None,
    policy: Policy | None = None,
    imported: Mapping[str, datetime] | None = None,
) -> tuple[ExposureRow, ...]:
    """Every host of the fleet and what affects it: a row per (advisory, package), or one NOT_AFFECTED/UNKNOWN row.

    `unknown` names the hosts whose facts cannot be used (see `freshness`), `undecided` why no host without a finding
    can be cleared. With a `policy`, each affected host gets the risk class the planner would give it for the finding.
    """
    by_host: dict[str, list[Finding]] = {}
    for finding in findings:
        by_host.setdefault(finding.host, []).append(finding)
    rows: list[ExposureRow] = []
    for host in fleet:
        owner = owner_fields(host)
        gathered = facts[host.name][1] if host.name in facts else None
        if host.lifecycle is Lifecycle.DECOMMISSIONED:
            rows.append(
                ExposureRow(
                    host=host.name, status=ExposureStatus.DECOMMISSIONED, reason="lifecycle is decommissioned", **owner
                )
            )
            continue
        if host.name in unknown:
            rows.append(
                ExposureRow(
                    host=host.name,
                    status=ExposureStatus.UNKNOWN,
                    facts_gathered_at=gathered,
                    reason=unknown[host.name],
                    **owner,
                )
            )
            continue
        host_findings = by_host.get(host.name, [])
        if not host_findings:
            status = ExposureStatus.UNKNOWN if undecided else ExposureStatus.NOT_AFFECTED
            rows.append(
                ExposureRow(host=host.name, status=status, facts_gathered_at=gathered, reason=undecided, **owner)
            )
            continue
        for finding in host_findings:
            decision = decide(finding.exploitation, host.exposure, host.criticality)
            is_unknown = finding.status is FindingStatus.UNKNOWN
            name, class_sla = risk_class(host, finding, decision, policy) if policy else (None, None)
            rows.append(
                ExposureRow(
                    host=host.name,
                    status=ExposureStatus.UNKNOWN if is_unknown else ExposureStatus.AFFECTED,
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
                    risk_class=name,
                    due=due_date(finding, decision, now=now, sla=sla, class_sla=class_sla, imported=imported),
                    facts_gathered_at=gathered,
                    reason=_with_owner(finding, host),
                    **owner,
                )
            )
    return tuple(rows)


class AdvisoryTargets(NamedTuple):
    """What `rollout --advisory ID` patches: the affected hosts, the update, the planner's risk inputs, the urgency."""

    targets: set[str]
    update: UpdateSpec
    vulnerabilities: dict[str, HostVulnerability]
    decision: Decision | None


def advisory_fix(
    advisory_id: str,
    findings: Sequence[Finding],
    fleet: Fleet,
    imported: Mapping[str, datetime] | None = None,
) -> AdvisoryTargets:
    """The hosts of the fleet the advisory's findings show affected, and the update that fixes them.

    The update installs each affected package at least at its fixed version; when the fixed version differs between
    the targets (different distributions) the package is updated to the newest available instead. PlanError when no
    affected package has a fixed version, or one names a package or version patchorch will not pass on.
    """
    affected = [f for f in findings if f.status is FindingStatus.AFFECTED and f.host in fleet]
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
    vulnerabilities = host_vulnerabilities([f for f in affected if f.host in targets], fleet, imported)
    decisions = [v.decision for v in vulnerabilities.values() if v.decision is not None]
    decision = min(decisions, key=lambda d: d.rank) if decisions else None
    return AdvisoryTargets(targets=targets, update=update, vulnerabilities=vulnerabilities, decision=decision)
