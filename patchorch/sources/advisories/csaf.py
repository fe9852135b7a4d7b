"""CSAF 2.0 (OASIS Common Security Advisory Framework) documents: the parts patchorch reads, and their normalisation.

Modelled on the CSAF 2.0 specification (sections 3.2.1 document, 3.2.2 product_tree, 3.2.3 vulnerabilities). Fields
patchorch does not use are accepted and ignored; the fields it reads are validated strictly, and every product ID a
vulnerability refers to must be defined in the product tree (mandatory test 6.1.1), each exactly once (6.1.2).

Normalisation: a product becomes a package through its `product_identification_helper.purl` (`pkg:deb/...` or
`pkg:rpm/...`), directly or through a relationship (`default_component_of` a platform); the distribution comes from the
purl's `distro` qualifier, or the platform's purl or CPE. Products in `fixed`/`first_fixed` give the fixed versions of
their package per distribution; products in `known_affected`/`first_affected`/`last_affected` with a version are
affected exactly; an affected product without a version and without any fix is affected in every version.

Exploitation: CSAF 2.0 `threats` of category `exploit_status` are free text, so their words decide: "no known
exploit"-like text is none; "active", "in the wild", "exploited" is active; anything else (proof of concept, public
exploit code, or wording not recognised) counts as a proof of concept, erring towards urgency. KEV data for the same
CVE, when imported, makes it active regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import Field, model_validator

from patchorch.domain.advisory import (
    Advisory,
    AdvisorySource,
    AffectedPackage,
    Ecosystem,
    Exploitation,
    RangeEvent,
    distro_key,
)
from patchorch.errors import AdvisoryError
from patchorch.sources.advisories._document import Strict, fail, problem

_MAX = 100_000

ProductId = Annotated[str, Field(min_length=1, max_length=1000)]
ProductIds = Annotated[tuple[ProductId, ...], Field(min_length=1, max_length=_MAX)]
NonEmpty = Annotated[str, Field(min_length=1)]

BranchCategory = Literal[
    "architecture",
    "host_name",
    "language",
    "legacy",
    "patch_level",
    "product_family",
    "product_name",
    "product_version",
    "product_version_range",
    "service_pack",
    "specification",
    "vendor",
]


class ProductIdentificationHelper(Strict):
    """Ways to identify a product in an asset database; patchorch reads purl and cpe."""

    purl: Annotated[str, Field(pattern=r"^pkg:", min_length=5, max_length=2000)] | None = None
    cpe: Annotated[str, Field(min_length=5, max_length=2000)] | None = None


class FullProductName(Strict):
    """A product with its ID."""

    name: NonEmpty
    product_id: ProductId
    product_identification_helper: ProductIdentificationHelper | None = None


class Branch(Strict):
    """A node of the product tree: vendor, product_name, product_version ... ending in a product."""

    category: BranchCategory
    name: NonEmpty
    product: FullProductName | None = None
    branches: Annotated[tuple[Branch, ...], Field(min_length=1, max_length=_MAX)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Branch:
        if (self.product is None) == (self.branches is None):
            raise ValueError("a branch has either a product or branches")
        return self


class Relationship(Strict):
    """A product combined with another, e.g. a package `default_component_of` a distribution."""

    category: Literal[
        "default_component_of",
        "external_component_of",
        "installed_on",
        "installed_with",
        "optional_component_of",
    ]
    full_product_name: FullProductName
    product_reference: ProductId
    relates_to_product_reference: ProductId


class ProductGroup(Strict):
    """Products referred to together."""

    group_id: Annotated[str, Field(min_length=1, max_length=1000)]
    product_ids: Annotated[tuple[ProductId, ...], Field(min_length=2, max_length=_MAX)]


class ProductTree(Strict):
    """Every product the document talks about."""

    branches: Annotated[tuple[Branch, ...], Field(min_length=1, max_length=_MAX)] | None = None
    full_product_names: Annotated[tuple[FullProductName, ...], Field(min_length=1, max_length=_MAX)] | None = None
    relationships: Annotated[tuple[Relationship, ...], Field(min_length=1, max_length=_MAX)] | None = None
    product_groups: Annotated[tuple[ProductGroup, ...], Field(min_length=1, max_length=_MAX)] | None = None


class ProductStatus(Strict):
    """Which products are affected, fixed, not affected ... by one vulnerability."""

    first_affected: ProductIds | None = None
    first_fixed: ProductIds | None = None
    fixed: ProductIds | None = None
    known_affected: ProductIds | None = None
    known_not_affected: ProductIds | None = None
    last_affected: ProductIds | None = None
    recommended: ProductIds | None = None
    under_investigation: ProductIds | None = None


class Remediation(Strict):
    """What to do about a vulnerability for some products."""

    category: Literal["mitigation", "no_fix_planned", "none_available", "vendor_fix", "workaround"]
    details: NonEmpty
    product_ids: ProductIds | None = None
    group_ids: Annotated[tuple[NonEmpty, ...], Field(min_length=1, max_length=_MAX)] | None = None
    url: str | None = None
    date: datetime | None = None


class CvssV3(Strict):
    """A CVSS v3.0/v3.1 score (FIRST's JSON schema: version, vectorString, baseScore, baseSeverity are required)."""

    version: Literal["3.0", "3.1"]
    vector_string: Annotated[str, Field(alias="vectorString", pattern=r"^CVSS:3\.[01]/", max_length=200)]
    base_score: Annotated[float, Field(alias="baseScore", ge=0, le=10)]
    base_severity: Literal["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"] = Field(alias="baseSeverity")


class Score(Strict):
    """Scores of one vulnerability for some products."""

    products: ProductIds
    cvss_v3: CvssV3 | None = None


class Threat(Strict):
    """Exploit status, impact or target set of a vulnerability."""

    category: Literal["exploit_status", "impact", "target_set"]
    details: NonEmpty
    date: datetime | None = None
    product_ids: ProductIds | None = None
    group_ids: Annotated[tuple[NonEmpty, ...], Field(min_length=1, max_length=_MAX)] | None = None


class Vulnerability(Strict):
    """One vulnerability of the document."""

    cve: Annotated[str, Field(pattern=r"^CVE-[0-9]{4}-[0-9]{4,}$")] | None = None
    title: str | None = None
    product_status: ProductStatus | None = None
    remediations: Annotated[tuple[Remediation, ...], Field(min_length=1, max_length=_MAX)] | None = None
    scores: Annotated[tuple[Score, ...], Field(min_length=1, max_length=_MAX)] | None = None
    threats: Annotated[tuple[Threat, ...], Field(min_length=1, max_length=_MAX)] | None = None


class RevisionHistoryEntry(Strict):
    """One revision of the document."""

    date: datetime
    number: Annotated[str, Field(pattern=r"^(0|[1-9][0-9]*)$|^((0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-.+)?)$")]
    summary: NonEmpty


class Tracking(Strict):
    """Identity and version of the document."""

    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\S](.*[\S])?$")]
    version: Annotated[
        str, Field(pattern=r"^(0|[1-9][0-9]{0,8})$|^((0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(-.+)?)$")
    ]
    status: Literal["draft", "final", "interim"]
    initial_release_date: datetime
    current_release_date: datetime
    revision_history: Annotated[tuple[RevisionHistoryEntry, ...], Field(min_length=1, max_length=_MAX)]


class Publisher(Strict):
    """Who issued the document."""

    category: Literal["coordinator", "discoverer", "other", "translator", "user", "vendor"]
    name: NonEmpty
    namespace: NonEmpty


class Document(Strict):
    """Document-level metadata."""

    category: NonEmpty
    csaf_version: Literal["2.0"]
    title: NonEmpty
    publisher: Publisher
    tracking: Tracking


class CsafDocument(Strict):
    """A CSAF 2.0 document."""

    document: Document
    product_tree: ProductTree | None = None
    vulnerabilities: Annotated[tuple[Vulnerability, ...], Field(min_length=1, max_length=_MAX)] | None = None


Branch.model_rebuild()


# --- normalisation -------------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """What the vulnerabilities say about one package of one distribution."""

    fixed: set[str] = field(default_factory=set)
    affected: set[str] = field(default_factory=set)
    every_version: bool = False
    cves: set[str] = field(default_factory=set)
    cvss: list[float] = field(default_factory=list)


class _Package:
    __slots__ = ("distro", "ecosystem", "name", "version")

    def __init__(self, ecosystem: Ecosystem, name: str, version: str | None, distro: str | None) -> None:
        self.ecosystem, self.name, self.version, self.distro = ecosystem, name, version, distro


_PURL = re.compile(
    r"^pkg:(?P<type>[A-Za-z][A-Za-z0-9.+-]*)/(?P<path>[^?#@]+)(?:@(?P<version>[^?#]*))?(?:\?(?P<q>[^#]*))?"
)
_UNDEFINED = "refers to a product_id the product tree does not define"
_CPE_DISTROS = {
    ("debian", "debian_linux"): "debian",
    ("canonical", "ubuntu_linux"): "ubuntu",
    ("redhat", "enterprise_linux"): "rhel",
    ("rocky", "rocky_linux"): "rocky",
    ("almalinux", "almalinux"): "almalinux",
    ("fedoraproject", "fedora"): "fedora",
}


def _purl_parts(purl: str) -> tuple[str, str, str | None, dict[str, str]] | None:
    match = _PURL.match(purl)
    if not match:
        return None
    path = [unquote(part) for part in match.group("path").split("/") if part]
    if not path:
        return None
    qualifiers = {}
    for item in (match.group("q") or "").split("&"):
        key, sep, value = item.partition("=")
        if sep:
            qualifiers[key.lower()] = unquote(value)
    version = unquote(match.group("version")) if match.group("version") else None
    return match.group("type").lower(), path[-1], version, qualifiers


def _distro_from_helper(helper: ProductIdentificationHelper | None) -> str | None:
    if helper is None:
        return None
    if helper.purl:
        parts = _purl_parts(helper.purl)
        if parts and parts[3].get("distro"):
            return distro_key(parts[3]["distro"], None)
    if helper.cpe:
        fields = helper.cpe.replace("cpe:2.3:", "").replace("cpe:/", "").split(":")
        if len(fields) >= 4:
            family = _CPE_DISTROS.get((fields[1].lower(), fields[2].lower()))
            if family and fields[3] not in ("", "*", "-"):
                return distro_key(family, unquote(fields[3]))
    return None


def _package(product: FullProductName, platform: FullProductName | None) -> _Package | None:
    helper = product.product_identification_helper
    if helper is None or helper.purl is None:
        return None
    parts = _purl_parts(helper.purl)
    if parts is None:
        return None
    kind, name, version, qualifiers = parts
    if kind not in ("deb", "rpm"):
        return None
    ecosystem = Ecosystem(kind)
    if version and ecosystem is Ecosystem.RPM and qualifiers.get("epoch") and ":" not in version:
        version = f"{qualifiers['epoch']}:{version}"
    distro = _distro_from_helper(helper)
    if distro is None and platform is not None:
        distro = _distro_from_helper(platform.product_identification_helper)
    return _Package(ecosystem, name, version, distro)


def _walk(
    branches: tuple[Branch, ...], location: tuple[int | str, ...]
) -> Iterator[tuple[FullProductName, tuple[int | str, ...]]]:
    stack = [(branch, (*location, index)) for index, branch in enumerate(branches)]
    while stack:
        branch, where = stack.pop()
        if branch.product is not None:
            yield branch.product, (*where, "product", "product_id")
        for index, child in enumerate(branch.branches or ()):
            stack.append((child, (*where, "branches", index)))


class _Products:
    """The product tree as lookups: product ID -> (product, platform) and group ID -> product IDs."""

    def __init__(self, document: CsafDocument, file: str) -> None:
        self.products: dict[str, tuple[FullProductName, FullProductName | None]] = {}
        self.groups: dict[str, tuple[str, ...]] = {}
        tree = document.product_tree
        if tree is None:
            return
        defined: list[tuple[FullProductName, tuple[int | str, ...]]] = []
        if tree.branches:
            defined.extend(_walk(tree.branches, ("product_tree", "branches")))
        for index, product in enumerate(tree.full_product_names or ()):
            defined.append((product, ("product_tree", "full_product_names", index, "product_id")))
        for product, where in defined:
            if product.product_id in self.products:
                raise fail(file, where, "product_id defined twice", product.product_id)
            self.products[product.product_id] = (product, None)
        for index, relation in enumerate(tree.relationships or ()):
            where = ("product_tree", "relationships", index)
            for key in ("product_reference", "relates_to_product_reference"):
                reference = getattr(relation, key)
                if reference not in self.products:
                    raise fail(file, (*where, key), _UNDEFINED, reference)
            new_id = relation.full_product_name.product_id
            if new_id in self.products:
                raise fail(file, (*where, "full_product_name", "product_id"), "product_id defined twice", new_id)
            component = self.products[relation.product_reference][0]
            platform = self.products[relation.relates_to_product_reference][0]
            self.products[new_id] = (component, platform)
        for index, group in enumerate(tree.product_groups or ()):
            for position, member in enumerate(group.product_ids):
                if member not in self.products:
                    where = ("product_tree", "product_groups", index, "product_ids", position)
                    raise fail(file, where, _UNDEFINED, member)
            self.groups[group.group_id] = group.product_ids

    def check(self, ids: tuple[str, ...] | None, location: tuple[int | str, ...], file: str) -> None:
        for index, product_id in enumerate(ids or ()):
            if product_id not in self.products:
                raise fail(file, (*location, index), _UNDEFINED, product_id)


def _exploitation(details: str) -> Exploitation:
    """Read a CSAF exploit_status text (free-form in CSAF 2.0): see the module doc for the rules."""
    text = details.lower()
    if re.search(r"\b(no|not|none)\b.{0,30}\b(known|exploit|exploitation|evidence)", text):
        return Exploitation.NONE
    if re.search(r"\bactive(ly)?\b|in the wild|\bexploited\b|\bkev\b", text):
        return Exploitation.ACTIVE
    if re.search(r"proof[ -]of[ -]concept|\bpoc\b|public(ly)? (available )?exploit|exploit code|functional", text):
        return Exploitation.POC
    return Exploitation.POC


def _revision_key(version: str) -> tuple[int, ...]:
    if version.isdigit():
        return (int(version),)
    core, _, pre = version.partition("-")
    numbers = tuple(int(part) for part in core.split("+")[0].split("."))
    return (*numbers, 0 if pre else 1)


def check_references(document: CsafDocument, file: str) -> _Products:
    """Every product and group ID used by a vulnerability is defined; AdvisoryError naming the first that is not."""
    products = _Products(document, file)
    for index, vulnerability in enumerate(document.vulnerabilities or ()):
        where: tuple[int | str, ...] = ("vulnerabilities", index)
        status = vulnerability.product_status
        if status is not None:
            for name in ProductStatus.model_fields:
                products.check(getattr(status, name), (*where, "product_status", name), file)
        pairs: tuple[tuple[str, tuple[Remediation | Threat, ...] | None], ...] = (
            ("remediations", vulnerability.remediations),
            ("threats", vulnerability.threats),
        )
        for kind, items in pairs:
            for position, item in enumerate(items or ()):
                products.check(item.product_ids, (*where, kind, position, "product_ids"), file)
                for number, group in enumerate(item.group_ids or ()):
                    if group not in products.groups:
                        raise fail(file, (*where, kind, position, "group_ids", number), "undefined group_id", group)
        for position, score in enumerate(vulnerability.scores or ()):
            products.check(score.products, (*where, "scores", position, "products"), file)
    return products


def to_advisories(document: CsafDocument, file: str) -> tuple[Advisory, ...]:
    """The document as one normalised Advisory."""
    products = check_references(document, file)
    tracking = document.document.tracking
    groups: dict[tuple[Ecosystem, str | None, str], _Group] = {}
    unresolved: set[str] = set()
    cves: set[str] = set()
    scores_all: list[float] = []
    exploitation = Exploitation.NONE

    for vulnerability in document.vulnerabilities or ():
        if vulnerability.cve:
            cves.add(vulnerability.cve)
        score_by_product: dict[str, float] = {}
        for score in vulnerability.scores or ():
            if score.cvss_v3 is not None:
                scores_all.append(score.cvss_v3.base_score)
                for product_id in score.products:
                    score_by_product[product_id] = max(score.cvss_v3.base_score, score_by_product.get(product_id, 0.0))
        for threat in vulnerability.threats or ():
            if threat.category == "exploit_status":
                level = _exploitation(threat.details)
                if level.rank > exploitation.rank:
                    exploitation = level
        status = vulnerability.product_status
        if status is None:
            continue
        fixed_ids = (status.fixed or ()) + (status.first_fixed or ())
        affected_ids = (status.known_affected or ()) + (status.first_affected or ()) + (status.last_affected or ())
        for kind, ids in (("fixed", fixed_ids), ("affected", affected_ids)):
            for product_id in ids:
                product, platform = products.products[product_id]
                package = _package(product, platform)
                if package is None:
                    unresolved.add(product_id)
                    continue
                entry = groups.setdefault((package.ecosystem, package.distro, package.name), _Group())
                if package.version:
                    (entry.fixed if kind == "fixed" else entry.affected).add(package.version)
                elif kind == "affected":
                    entry.every_version = True
                if vulnerability.cve:
                    entry.cves.add(vulnerability.cve)
                if product_id in score_by_product:
                    entry.cvss.append(score_by_product[product_id])

    affected = []
    ordered = sorted(groups.items(), key=lambda item: (item[0][0].value, item[0][1] or "", item[0][2]))
    for (ecosystem, distro, name), entry in ordered:
        fixed = sorted(entry.fixed)
        listed = sorted(entry.affected)
        events: list[RangeEvent] = []
        if fixed:
            events = [RangeEvent(kind="introduced", version="0")]
            events += [RangeEvent(kind="fixed", version=version) for version in fixed]
        elif entry.every_version:
            events = [RangeEvent(kind="introduced", version="0")]
        if not events and not listed:
            continue
        try:
            affected.append(
                AffectedPackage(
                    ecosystem=ecosystem,
                    distro=distro,
                    name=name,
                    events=tuple(events),
                    versions=tuple(listed),
                    cves=tuple(sorted(entry.cves)),
                    cvss=max(entry.cvss) if entry.cvss else None,
                )
            )
        except ValueError as exc:
            raise AdvisoryError(
                [problem(file, ("product_tree",), f"package {name!r} cannot be read: {_first_error(exc)}")]
            ) from None

    try:
        return (
            Advisory(
                id=tracking.id,
                source=AdvisorySource.CSAF,
                revision=tracking.version,
                revision_key=_revision_key(tracking.version),
                title=document.document.title[:2000],
                status=tracking.status,
                published=tracking.initial_release_date,
                updated=tracking.current_release_date,
                cves=tuple(sorted(cves)),
                cvss=max(scores_all) if scores_all else None,
                exploitation=exploitation,
                affected=tuple(affected),
                unresolved=tuple(sorted(unresolved)),
            ),
        )
    except ValueError as exc:
        raise AdvisoryError([problem(file, ("document",), f"cannot be read: {_first_error(exc)}")]) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
