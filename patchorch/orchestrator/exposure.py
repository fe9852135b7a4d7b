"""Advisory intake and exposure, the I/O half: import advisory files into the store, and read advisories and
package facts from it for the decisions of `patchorch.domain.exposure` (what is affected, how urgently, by when).

`advisory_targets` gives `rollout --advisory ID` its targets, update and risk inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from patchorch.domain.advisory import Advisory, Finding, PackageInstall, ProductKind, VersionComparator, match
from patchorch.domain.exposure import (
    AdvisoryTargets,
    ExposureReport,
    advisory_fix,
    exposure_rows,
    freshness,
    select,
    selected,
    undecidable,
)
from patchorch.domain.fleet import Fleet
from patchorch.domain.policy import Policy
from patchorch.domain.vulnerability import DEFAULT_MAX_FACT_AGE, Decision
from patchorch.errors import PlanError
from patchorch.sources.advisories import LoadedDocument, documents_in, load_document
from patchorch.sources.versions import PackageVersions
from patchorch.store.advisories import AdvisoryStore, ImportOutcome, StoredAdvisory


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


class _Assessment(NamedTuple):
    findings: tuple[Finding, ...]
    unknown: dict[str, str]
    facts: dict[str, tuple[tuple[PackageInstall, ...], datetime]]
    advisories: tuple[Advisory, ...]
    # Why no host without a finding can be cleared for the selected advisory ('' when the advisory can clear hosts).
    undecidable: str
    # When each advisory was imported: its SLAs count from then when it names no publication time.
    imported: dict[str, datetime]


def _assess(
    fleet: Fleet,
    store: AdvisoryRepository,
    *,
    advisory: str | None,
    now: datetime,
    max_fact_age: timedelta,
    comparator: VersionComparator,
) -> _Assessment:
    stored = store.list()
    advisories = tuple(item.advisory for item in stored)
    selection = select(advisories, advisory)
    facts = store.all_facts([host.name for host in fleet])
    unknown = {host.name: reason for host in fleet if (reason := freshness(host.name, facts, now, max_fact_age))}
    installed = [package for name, (packages, _) in facts.items() if name not in unknown for package in packages]
    findings = tuple(f for f in match(installed, advisories, comparator) if selected(f, selection))
    imported = {item.advisory.id: item.imported_at for item in stored}
    return _Assessment(findings, unknown, facts, advisories, undecidable(advisories, selection), imported)


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
    date. The due date is the earliest of the KEV due date, disclosure + `sla[decision]` and disclosure + the
    class SLA (`patchorch.domain.due`).
    """
    result = _assess(
        fleet,
        store,
        advisory=advisory,
        now=now,
        max_fact_age=max_fact_age,
        comparator=comparator or PackageVersions(),
    )
    rows = exposure_rows(
        fleet,
        result.findings,
        result.facts,
        result.unknown,
        now=now,
        undecided=result.undecidable,
        sla=sla,
        policy=policy,
        imported=result.imported,
    )
    return ExposureReport(generated_at=now, advisory=advisory, max_fact_age=max_fact_age, rows=rows)


# --- rollout --advisory ----------------------------------------------------------------------------------------------


def advisory_targets(
    store: AdvisoryRepository,
    fleet: Fleet,
    advisory_id: str,
    now: datetime,
    *,
    max_fact_age: timedelta = DEFAULT_MAX_FACT_AGE,
    comparator: VersionComparator | None = None,
) -> AdvisoryTargets:
    """The hosts an advisory (ID or CVE) affects and the update that fixes them (see `domain.exposure.advisory_fix`).

    Hosts with missing or stale facts are not targets: `exposure(..., advisory=ID)` lists them as UNKNOWN. PlanError
    when the advisory is not stored, or no affected package has a fixed version.
    """
    result = _assess(
        fleet,
        store,
        advisory=advisory_id,
        now=now,
        max_fact_age=max_fact_age,
        comparator=comparator or PackageVersions(),
    )
    return advisory_fix(advisory_id, result.findings, fleet, result.imported)


def hosts_without_facts(
    store: AdvisoryRepository, fleet: Fleet, now: datetime, *, max_fact_age: timedelta = DEFAULT_MAX_FACT_AGE
) -> dict[str, str]:
    """Hosts of the fleet whose package facts are missing or stale, with the reason."""
    facts = store.all_facts([host.name for host in fleet])
    return {host.name: reason for host in fleet if (reason := freshness(host.name, facts, now, max_fact_age))}
