"""CSAF 2.0 (OASIS Common Security Advisory Framework) documents: the parts patchorch reads, and their normalisation.

Modelled on the CSAF 2.0 specification (sections 3.2.1 document, 3.2.2 product_tree, 3.2.3 vulnerabilities). Fields
patchorch does not use are accepted and ignored; the fields it reads are validated strictly, then `check` runs the
enforced mandatory tests of section 6.1 (`_csaf_tests`). Relationships may refer to products defined later.

Normalisation: a product becomes a package through its `product_identification_helper.purl` (`pkg:deb/...` or
`pkg:rpm/...`, parsed by packageurl-python), directly or through relationships (`default_component_of` a platform);
its distribution stream comes from the purl's `distro` qualifier, else the platform's purl or CPE (Red Hat EUS/AUS
CPEs give a minor stream such as `rhel-8.6`, OpenShift's `el9` gives `rhel-9`), else the version's build tag (`.el9`,
`+deb12u1`). Products in `fixed`/`first_fixed` give the fixed versions of their package per stream; products in
`known_affected`/`first_affected`/`last_affected` with a version are affected exactly; an affected product without a
version and without any fix is affected in every version. A build whose tag names another release than its platform,
and an rpm with no release at all, are never merged into a range: they become claims like the products below.

Products without a usable purl become `ProductClaim`s through `patchorch.domain.products` (CPE 2.3/2.2, product
names, the version range of a `product_version_range` branch): a distribution, an application, or unmapped.

Exploitation: CSAF 2.0 `threats` of category `exploit_status` are free text, so their words decide: "no known
exploit"-like text is none; "active", "in the wild", "exploited" is active; anything else (proof of concept, public
exploit code, or wording not recognised) counts as a proof of concept, erring towards urgency. KEV data for the same
CVE, when imported, makes it active regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from packageurl import PackageURL
from pydantic import Field, model_validator

from patchorch.domain.advisory import (
    Advisory,
    AdvisorySource,
    AffectedPackage,
    Ecosystem,
    Exploitation,
    Moment,
    ProductClaim,
    ProductKind,
    RangeEvent,
    distro_key,
)
from patchorch.domain.products import (
    APPLICATIONS,
    MINOR_STREAMS,
    application_by_name,
    os_by_name,
    parse_cpe,
    stream_of,
)
from patchorch.errors import AdvisoryError
from patchorch.sources.advisories import _csaf_tests
from patchorch.sources.advisories._csaf_tests import VERSION_PATTERN
from patchorch.sources.advisories._document import MAX_PROBLEMS, Strict, problem

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
    date: Moment | None = None


class Score(Strict):
    """Scores of one vulnerability for some products; the CVSS objects are checked by mandatory tests 6.1.7-6.1.10."""

    products: ProductIds
    cvss_v2: dict[str, Any] | None = None
    cvss_v3: dict[str, Any] | None = None

    @property
    def base_score(self) -> float | None:
        """The v3 base score, else the v2 one (validated against the vector before this is read)."""
        for cvss in (self.cvss_v3, self.cvss_v2):
            value = (cvss or {}).get("baseScore")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None


class Threat(Strict):
    """Exploit status, impact or target set of a vulnerability."""

    category: Literal["exploit_status", "impact", "target_set"]
    details: NonEmpty
    date: Moment | None = None
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

    date: Moment
    number: Annotated[str, Field(pattern=VERSION_PATTERN, max_length=200)]
    summary: NonEmpty


class Tracking(Strict):
    """Identity and version of the document."""

    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\S](.*[\S])?$")]
    version: Annotated[str, Field(pattern=VERSION_PATTERN, max_length=200)]
    status: Literal["draft", "final", "interim"]
    initial_release_date: Moment
    current_release_date: Moment
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


@dataclass(frozen=True)
class _Package:
    ecosystem: Ecosystem
    name: str
    version: str | None
    distro: str | None


@dataclass(frozen=True)
class _Context:
    """Where a product sits in the branches: the vendor, product name, and version or version range branch names."""

    vendor: str = ""
    product_name: str = ""
    version: str = ""
    version_range: str = ""


@dataclass
class _Entry:
    product: FullProductName
    platform: FullProductName | None
    context: _Context


# Distribution-specific version tags that name the release a build belongs to.
_EL_TAG = re.compile(r"\.el(\d{1,2})(?:_(\d+))?")
_DEB_TAG = re.compile(r"[+~]deb(\d{1,2})u\d+")


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def distro_of_cpe(text: str) -> str | None:
    """`rhel-9`, `rhel-8.6` (an EUS/AUS stream), `debian-12` for a distribution CPE; None otherwise."""
    cpe = parse_cpe(text)
    stream = stream_of(cpe) if cpe else None
    if cpe is None or stream is None or not stream[1]:
        return None
    family, release = stream
    if cpe.product in MINOR_STREAMS and re.match(r"^\d+\.\d+$", release):
        return f"{family}-{release}"
    return distro_key(family, release)


def _distro_from_helper(helper: ProductIdentificationHelper | None) -> str | None:
    if helper is None:
        return None
    if helper.purl:
        purl = _purl(helper.purl)
        distro = (purl.qualifiers or {}).get("distro") if purl else None
        if isinstance(distro, str) and distro:
            return distro_key(distro, None)
    if helper.cpe:
        return distro_of_cpe(helper.cpe)
    return None


def _distro_of_version(ecosystem: Ecosystem, version: str | None) -> str | None:
    """The release a build's version names: `1.0-2.el9` -> rhel-9, `1.0-1+deb12u1` -> debian-12."""
    if not version:
        return None
    found = (_EL_TAG if ecosystem is Ecosystem.RPM else _DEB_TAG).search(version)
    if found is None:
        return None
    return f"rhel-{found.group(1)}" if ecosystem is Ecosystem.RPM else f"debian-{found.group(1)}"


def _package(entry: _Entry) -> _Package | str | None:
    """The distribution package a product is, or why it is not one (a str), or None when it has no purl."""
    helper = entry.product.product_identification_helper
    if helper is None or helper.purl is None:
        return None
    purl = _purl(helper.purl)
    if purl is None:
        return f"purl {helper.purl[:200]!r} does not parse"
    if purl.type not in ("deb", "rpm"):
        return f"purl type {purl.type!r} is not a distribution package"
    ecosystem = Ecosystem(purl.type)
    version = purl.version
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    epoch = qualifiers.get("epoch")
    if version and ecosystem is Ecosystem.RPM and epoch and ":" not in version:
        version = f"{epoch}:{version}"
    distro = _distro_from_helper(helper)
    if distro is None and entry.platform is not None:
        distro = _distro_from_helper(entry.platform.product_identification_helper)
    return _Package(ecosystem, purl.name, version, distro)


def _walk(branches: tuple[Branch, ...]) -> Iterator[tuple[FullProductName, _Context]]:
    stack = [(branch, _Context()) for branch in branches]
    while stack:
        branch, context = stack.pop()
        if branch.category == "vendor":
            context = replace(context, vendor=branch.name)
        elif branch.category == "product_name":
            context = replace(context, product_name=branch.name)
        elif branch.category == "product_version":
            context = replace(context, version=branch.name)
        elif branch.category == "product_version_range":
            context = replace(context, version_range=branch.name)
        if branch.product is not None:
            yield branch.product, context
        stack.extend((child, context) for child in branch.branches or ())


class _Products:
    """The product tree as lookups: product ID -> entry (relationships resolved) and group ID -> product IDs.

    Mandatory tests 6.1.1-6.1.5 have already passed, so every ID is defined once and relationships form no circle;
    a relationship may refer to a product defined later in the document.
    """

    def __init__(self, document: CsafDocument) -> None:
        self.products: dict[str, _Entry] = {}
        self.groups: dict[str, tuple[str, ...]] = {}
        tree = document.product_tree
        if tree is None:
            return
        for product, context in _walk(tree.branches or ()):
            self.products[product.product_id] = _Entry(product, None, context)
        for product in tree.full_product_names or ():
            self.products[product.product_id] = _Entry(product, None, _Context())
        relations = {r.full_product_name.product_id: r for r in tree.relationships or ()}
        for new_id in relations:
            self.products[new_id] = self._resolve(new_id, relations, depth=0)
        for group in tree.product_groups or ():
            self.groups[group.group_id] = group.product_ids

    def _resolve(self, product_id: str, relations: dict[str, Relationship], depth: int) -> _Entry:
        relation = relations.get(product_id)
        if relation is None or depth > 64:
            return self.products[product_id]
        component = self._resolve(relation.product_reference, relations, depth + 1)
        platform_entry = self._resolve(relation.relates_to_product_reference, relations, depth + 1)
        platform = platform_entry.platform or platform_entry.product
        return _Entry(component.product, platform, component.context)


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
    core, _, pre = version.split("+", 1)[0].partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    return (*numbers, 0 if pre else 1)


def check(data: dict[str, Any], file: str) -> None:
    """Run the enforced mandatory tests; AdvisoryError listing their problems (each naming its test number)."""
    problems = _csaf_tests.run(data, file)
    if problems:
        raise AdvisoryError(list(problems[:MAX_PROBLEMS]))


# --- products named without a package --------------------------------------------------------------------------------

_RANGE = re.compile(r"^(<=|<|>=|>|=)?\s*([0-9][0-9A-Za-z.+~_-]*)$")


def _range_events(text: str) -> tuple[tuple[RangeEvent, ...], tuple[str, ...]] | None:
    """Upstream range of a BSI-style version range (`<4.96.1`, `<=3.0.11`, `>=3.0.0 <3.0.12`, `vers:generic/...`)."""
    body = text.strip()
    if body.lower().startswith("vers:"):
        body = body.split("/", 1)[1] if "/" in body else ""
        parts = [part.strip() for part in body.split("|")]
    else:
        parts = [part for part in re.split(r"\s+(?=[<>=])|\s*,\s*", body) if part]
    introduced, events, versions = "0", [], []
    for part in parts:
        found = _RANGE.match(part.replace(" ", ""))
        if found is None:
            return None
        operator, version = found.group(1) or "=", found.group(2)
        if operator == "<":
            events.append(RangeEvent(kind="fixed", version=version))
        elif operator == "<=":
            events.append(RangeEvent(kind="last_affected", version=version))
        elif operator == ">=":
            introduced = version
        elif operator == "=":
            versions.append(version)
        else:
            return None
    if events:
        events.insert(0, RangeEvent(kind="introduced", version=introduced))
    if not events and not versions:
        return None
    return tuple(events), tuple(versions)


_STATUS_OF = {
    "known_affected": "affected",
    "first_affected": "affected",
    "last_affected": "affected",
    "under_investigation": "under_investigation",
    "fixed": "fixed",
    "first_fixed": "fixed",
    "known_not_affected": "not_affected",
}


def _claim(product_id: str, entry: _Entry, status: str, reason: str, cves: tuple[str, ...]) -> ProductClaim:
    """What a product without a usable package is: a distribution, an application, or nothing patchorch knows."""
    product, context = entry.product, entry.context
    helper = product.product_identification_helper
    cpe_text = helper.cpe if helper and helper.cpe else None
    if cpe_text is None and entry.platform is not None:
        platform_helper = entry.platform.product_identification_helper
        cpe_text = platform_helper.cpe if platform_helper and platform_helper.cpe else None
    cpe = parse_cpe(cpe_text) if cpe_text else None
    base: dict[str, Any] = {
        "product_id": product_id,
        "name": product.name[:2000],
        "cpe": cpe_text[:2000] if cpe_text else None,
        "status": status,
        "cves": cves,
    }
    version_text = context.version_range or context.version
    application = None
    family: str | None = None
    release = ""
    if cpe is not None:
        application = APPLICATIONS.get((cpe.vendor, cpe.product))
        stream = None if application else stream_of(cpe)
        if stream is not None:
            family, release = stream
            if cpe.product in MINOR_STREAMS and release:
                return ProductClaim(**base, kind=ProductKind.DISTRIBUTION, distro=f"rhel-{release}")
        elif application is None and cpe.part == "o":
            # Another operating system: host facts name each host's distribution, so none runs this one.
            return ProductClaim(
                **base,
                kind=ProductKind.DISTRIBUTION,
                distro=f"{cpe.vendor}:{cpe.product}",
                reason="another operating system: no host whose facts name its Linux distribution runs it",
            )
        if application is None and family is None:
            reason = reason or f"CPE {cpe.vendor}:{cpe.product} is not in patchorch's product mapping"
    elif cpe_text is not None:
        reason = reason or f"CPE {cpe_text[:200]!r} does not parse"
    if application is None and family is None and cpe is None:
        for name in (context.product_name, product.name):
            application = application or application_by_name(name)
            family = family or os_by_name(name)
        if application is None and family is None:
            reason = reason or "no package URL or known CPE, and the name is not in patchorch's product mapping"
    if family is not None:
        version = release or (context.version if context.version[:1].isdigit() else "")
        return ProductClaim(
            **base, kind=ProductKind.DISTRIBUTION, distro=distro_key(family, version or None) if version else family
        )
    if application is not None:
        events: tuple[RangeEvent, ...] = ()
        versions: tuple[str, ...] = ()
        parsed = _range_events(version_text) if version_text else None
        if parsed is not None:
            events, versions = parsed
        elif cpe is not None and cpe.version and not context.version_range and status != "fixed":
            versions = (cpe.version,)
        if status == "fixed" and versions and not events:
            events, versions = (
                (RangeEvent(kind="introduced", version="0"), RangeEvent(kind="fixed", version=versions[0])),
                (),
            )
        platform = _distro_from_helper(entry.platform.product_identification_helper) if entry.platform else None
        return ProductClaim(
            **base,
            kind=ProductKind.APPLICATION,
            distro=platform,
            deb=application.deb,
            rpm=application.rpm,
            events=events,
            versions=versions,
        )
    return ProductClaim(**base, kind=ProductKind.UNMAPPED, reason=reason[:2000])


def to_advisories(document: CsafDocument, file: str) -> tuple[Advisory, ...]:
    """The document as one normalised Advisory."""
    products = _Products(document)
    tracking = document.document.tracking
    groups: dict[tuple[Ecosystem, str | None, str], _Group] = {}
    claims: dict[tuple[str, str], ProductClaim] = {}
    cves: set[str] = set()
    scores_all: list[float] = []
    exploitation = Exploitation.NONE

    for vulnerability in document.vulnerabilities or ():
        vulnerability_cves = (vulnerability.cve,) if vulnerability.cve else ()
        cves.update(vulnerability_cves)
        score_by_product: dict[str, float] = {}
        for score in vulnerability.scores or ():
            value = score.base_score
            if value is not None:
                scores_all.append(value)
                for product_id in score.products:
                    score_by_product[product_id] = max(value, score_by_product.get(product_id, 0.0))
        for threat in vulnerability.threats or ():
            if threat.category == "exploit_status":
                level = _exploitation(threat.details)
                if level.rank > exploitation.rank:
                    exploitation = level
        status = vulnerability.product_status
        if status is None:
            continue
        for bucket, label in _STATUS_OF.items():
            for product_id in getattr(status, bucket) or ():
                try:
                    _collect(products, product_id, label, vulnerability_cves, score_by_product, groups, claims)
                except ValueError as exc:
                    where = ("product_tree",)
                    message = f"product {product_id!r} cannot be read: {_first_error(exc)}"
                    raise AdvisoryError([problem(file, where, message)]) from None

    affected = []
    ordered = sorted(groups.items(), key=lambda item: (item[0][0].value, item[0][1] or "", item[0][2]))
    for (ecosystem, distro, name), group in ordered:
        fixed = sorted(group.fixed)
        listed = sorted(group.affected)
        events: list[RangeEvent] = []
        if fixed:
            events = [RangeEvent(kind="introduced", version="0")]
            events += [RangeEvent(kind="fixed", version=version) for version in fixed]
        elif group.every_version:
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
                    cves=tuple(sorted(group.cves)),
                    cvss=max(group.cvss) if group.cvss else None,
                )
            )
        except ValueError as exc:
            raise AdvisoryError(
                [problem(file, ("product_tree",), f"package {name!r} cannot be read: {_first_error(exc)}")]
            ) from None

    # Only claims that can leave a host UNKNOWN are kept: a VEX document's thousands of not-affected products are not.
    product_claims = tuple(claims[key] for key in sorted(claims) if claims[key].concerns_hosts)
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
                unresolved=tuple(sorted({claim.product_id for claim in product_claims if claim.concerns_hosts})),
                products=product_claims,
            ),
        )
    except ValueError as exc:
        raise AdvisoryError([problem(file, ("document",), f"cannot be read: {_first_error(exc)}")]) from None


def _collect(
    products: _Products,
    product_id: str,
    label: str,
    vulnerability_cves: tuple[str, ...],
    score_by_product: dict[str, float],
    groups: dict[tuple[Ecosystem, str | None, str], _Group],
    claims: dict[tuple[str, str], ProductClaim],
) -> None:
    """File one product's status: a package into its (ecosystem, stream, name) group, anything else as a claim."""
    entry = products.products[product_id]
    package = _package(entry)
    if not isinstance(package, _Package) or (label in ("under_investigation", "not_affected")):
        if isinstance(package, _Package):
            package_claim = _package_claim(product_id, entry, package, label, vulnerability_cves)
            claims[(product_id, label)] = package_claim
        else:
            claims[(product_id, label)] = _claim(product_id, entry, label, package or "", vulnerability_cves)
        return
    version_distro = _distro_of_version(package.ecosystem, package.version)
    if package.distro is None:
        package = replace(package, distro=version_distro)
    elif version_distro is not None and not _same_release(package.distro, version_distro):
        reason = f"version {package.version} is a {version_distro} build, not one of {package.distro}"
        claims[(product_id, label)] = _package_claim(product_id, entry, package, label, vulnerability_cves, reason)
        return
    if package.distro is None:
        reason = f"package {package.name} names no distribution release to compare with"
        claims[(product_id, label)] = _package_claim(product_id, entry, package, label, vulnerability_cves, reason)
        return
    group = groups.setdefault((package.ecosystem, package.distro, package.name), _Group())
    if package.version:
        (group.fixed if label == "fixed" else group.affected).add(package.version)
    elif label == "affected":
        group.every_version = True
    group.cves.update(vulnerability_cves)
    if product_id in score_by_product:
        group.cvss.append(score_by_product[product_id])


def _same_release(distro: str, build: str) -> bool:
    """Whether a build tagged for `build` (rhel-9) belongs to `distro` (rhel-9, or its minor stream rhel-9.2)."""
    return distro == build or distro.startswith(build + ".")


def _package_claim(
    product_id: str,
    entry: _Entry,
    package: _Package,
    status: str,
    cves: tuple[str, ...],
    reason: str = "",
) -> ProductClaim:
    """A package that cannot be compared as a range (no release, or a build of another release) as a claim."""
    names = (package.name,)
    return ProductClaim(
        product_id=product_id,
        name=entry.product.name[:2000],
        status=status,
        kind=ProductKind.APPLICATION,
        distro=package.distro,
        deb=names if package.ecosystem is Ecosystem.DEB else (),
        rpm=names if package.ecosystem is Ecosystem.RPM else (),
        cves=cves,
        reason=reason,
    )


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
