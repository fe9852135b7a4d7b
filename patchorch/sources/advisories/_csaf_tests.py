"""The CSAF 2.0 mandatory tests (specification section 6.1) that decide what patchorch believes.

Enforced: 6.1.1 missing definition of a product ID (product status, scores, remediations, threats, flags, groups,
relationships), 6.1.2 multiple definition of a product ID, 6.1.3 circular definition of a product ID, 6.1.4 missing
definition of a group ID, 6.1.5 multiple definition of a group ID, 6.1.6 contradicting product status, 6.1.7 several
scores of one CVSS version for one product, 6.1.8 invalid CVSS object, 6.1.9 CVSS scores or severities that contradict
the vector, 6.1.10 CVSS properties that contradict the vector, 6.1.14 revision history not sorted, 6.1.15 translator
without source_lang, 6.1.16 document version is not the latest revision, 6.1.17 pre-release or 0 version not in draft,
6.1.18 released document with a 0 revision, 6.1.19 pre-release revision, 6.1.20 released document with a pre-release
version, 6.1.21 missing revision, 6.1.22 revision defined twice, 6.1.32 flag without product reference and 6.1.33
several VEX flags for one product.

Not enforced (they do not change what patchorch concludes): 6.1.11 CWE, 6.1.12 language, 6.1.13 purl syntax (purls
patchorch cannot read leave the product unmapped), 6.1.23-6.1.31.

Why not a PyPI validator (measured on the OASIS CSAF 2.0 corpus, December 2026): `csaf-check` runs BSI's JavaScript
validator and needs Node.js; `csaf-lib` is a 0.1 beta aimed at VEX; `csaf` 2026.10.25 (beta) refused 2 of the 145
valid documents under its mandatory preset, took 1.47 s for the corpus against 0.15 s here, adds five dependencies
and installs a root logging handler when imported. This module accepts all 145 and refuses all 48 invalid documents
of the enforced tests (bench/csaf_corpus.py).

`run(data, file)` returns the problems, each naming the test number; the caller raises them together.
CVSS scores are computed with the `cvss` package (FIRST's v2 and v3.x equations).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from cvss import CVSS2, CVSS3
from cvss.exceptions import CVSSError

from patchorch.sources.advisories._document import PointerProblem, problem

Where = tuple[int | str, ...]

_TITLES = {
    "6.1.1": "missing definition of product ID",
    "6.1.2": "multiple definition of product ID",
    "6.1.3": "circular definition of product ID",
    "6.1.4": "missing definition of product group ID",
    "6.1.5": "multiple definition of product group ID",
    "6.1.6": "contradicting product status",
    "6.1.7": "multiple scores with same version per product",
    "6.1.8": "invalid CVSS",
    "6.1.9": "invalid CVSS computation",
    "6.1.10": "inconsistent CVSS",
    "6.1.14": "sorted revision history",
    "6.1.15": "translator",
    "6.1.16": "latest document version",
    "6.1.17": "document status draft",
    "6.1.18": "released revision history",
    "6.1.19": "revision history entries for pre-release versions",
    "6.1.20": "non-draft document version",
    "6.1.21": "missing item in revision history",
    "6.1.22": "multiple definition in revision history",
    "6.1.32": "flag without product reference",
    "6.1.33": "multiple flags with VEX justification codes per product",
}

_STATUS_GROUPS = {
    "first_affected": "affected",
    "known_affected": "affected",
    "last_affected": "affected",
    "known_not_affected": "not affected",
    "first_fixed": "fixed",
    "fixed": "fixed",
    "under_investigation": "under investigation",
}
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
VERSION_PATTERN = r"^(0|[1-9][0-9]*)$|" + _SEMVER.pattern

# CVSS JSON property -> vector metric, per version family (FIRST's cvss-v2.0/v3.x JSON schemas).
_V3_PROPERTIES = {
    "attackVector": ("AV", {"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L", "PHYSICAL": "P"}),
    "attackComplexity": ("AC", {"LOW": "L", "HIGH": "H"}),
    "privilegesRequired": ("PR", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    "userInteraction": ("UI", {"NONE": "N", "REQUIRED": "R"}),
    "scope": ("S", {"UNCHANGED": "U", "CHANGED": "C"}),
    "confidentialityImpact": ("C", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    "integrityImpact": ("I", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    "availabilityImpact": ("A", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    "exploitCodeMaturity": (
        "E",
        {"UNPROVEN": "U", "PROOF_OF_CONCEPT": "P", "FUNCTIONAL": "F", "HIGH": "H", "NOT_DEFINED": "X"},
    ),
    "remediationLevel": (
        "RL",
        {"OFFICIAL_FIX": "O", "TEMPORARY_FIX": "T", "WORKAROUND": "W", "UNAVAILABLE": "U", "NOT_DEFINED": "X"},
    ),
    "reportConfidence": ("RC", {"UNKNOWN": "U", "REASONABLE": "R", "CONFIRMED": "C", "NOT_DEFINED": "X"}),
    "confidentialityRequirement": ("CR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "X"}),
    "integrityRequirement": ("IR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "X"}),
    "availabilityRequirement": ("AR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "X"}),
    "modifiedAttackVector": (
        "MAV",
        {"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L", "PHYSICAL": "P", "NOT_DEFINED": "X"},
    ),
    "modifiedAttackComplexity": ("MAC", {"LOW": "L", "HIGH": "H", "NOT_DEFINED": "X"}),
    "modifiedPrivilegesRequired": ("MPR", {"NONE": "N", "LOW": "L", "HIGH": "H", "NOT_DEFINED": "X"}),
    "modifiedUserInteraction": ("MUI", {"NONE": "N", "REQUIRED": "R", "NOT_DEFINED": "X"}),
    "modifiedScope": ("MS", {"UNCHANGED": "U", "CHANGED": "C", "NOT_DEFINED": "X"}),
    "modifiedConfidentialityImpact": ("MC", {"NONE": "N", "LOW": "L", "HIGH": "H", "NOT_DEFINED": "X"}),
    "modifiedIntegrityImpact": ("MI", {"NONE": "N", "LOW": "L", "HIGH": "H", "NOT_DEFINED": "X"}),
    "modifiedAvailabilityImpact": ("MA", {"NONE": "N", "LOW": "L", "HIGH": "H", "NOT_DEFINED": "X"}),
}
_V2_PROPERTIES = {
    "accessVector": ("AV", {"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L"}),
    "accessComplexity": ("AC", {"HIGH": "H", "MEDIUM": "M", "LOW": "L"}),
    "authentication": ("Au", {"MULTIPLE": "M", "SINGLE": "S", "NONE": "N"}),
    "confidentialityImpact": ("C", {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
    "integrityImpact": ("I", {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
    "availabilityImpact": ("A", {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
    "exploitability": ("E", {"UNPROVEN": "U", "PROOF_OF_CONCEPT": "POC", "FUNCTIONAL": "F", "HIGH": "H"}),
    "remediationLevel": ("RL", {"OFFICIAL_FIX": "OF", "TEMPORARY_FIX": "TF", "WORKAROUND": "W", "UNAVAILABLE": "U"}),
    "reportConfidence": ("RC", {"UNCONFIRMED": "UC", "UNCORROBORATED": "UR", "CONFIRMED": "C"}),
    "collateralDamagePotential": (
        "CDP",
        {"NONE": "N", "LOW": "L", "LOW_MEDIUM": "LM", "MEDIUM_HIGH": "MH", "HIGH": "H"},
    ),
    "targetDistribution": ("TD", {"NONE": "N", "LOW": "L", "MEDIUM": "M", "HIGH": "H"}),
    "confidentialityRequirement": ("CR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H"}),
    "integrityRequirement": ("IR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H"}),
    "availabilityRequirement": ("AR", {"LOW": "L", "MEDIUM": "M", "HIGH": "H"}),
}
_SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def failed(file: str, where: Where, test: str, message: str, value: object = None) -> PointerProblem:
    """A problem of mandatory test `test`, its number and title leading the message."""
    return problem(file, where, f"CSAF 2.0 mandatory test {test} ({_TITLES[test]}): {message}", value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- product IDs and groups ------------------------------------------------------------------------------------------


def _definitions(data: dict[str, Any]) -> Iterator[tuple[Any, Where]]:
    """Every product ID the product tree defines, with the pointer of its definition."""
    tree = _dict(data.get("product_tree"))
    stack: list[tuple[Any, Where]] = [
        (branch, ("product_tree", "branches", i)) for i, branch in enumerate(_list(tree.get("branches")))
    ]
    while stack:
        branch, where = stack.pop()
        branch = _dict(branch)
        product = _dict(branch.get("product"))
        if "product_id" in product:
            yield product["product_id"], (*where, "product", "product_id")
        stack.extend((child, (*where, "branches", i)) for i, child in enumerate(_list(branch.get("branches"))))
    for i, product in enumerate(_list(tree.get("full_product_names"))):
        if "product_id" in _dict(product):
            yield product["product_id"], ("product_tree", "full_product_names", i, "product_id")
    for i, relation in enumerate(_list(tree.get("relationships"))):
        product = _dict(_dict(relation).get("full_product_name"))
        if "product_id" in product:
            yield product["product_id"], ("product_tree", "relationships", i, "full_product_name", "product_id")


def _references(data: dict[str, Any]) -> Iterator[tuple[Any, Where]]:
    """Every product ID the document refers to, with its pointer."""
    tree = _dict(data.get("product_tree"))
    for i, relation in enumerate(_list(tree.get("relationships"))):
        for key in ("product_reference", "relates_to_product_reference"):
            if key in _dict(relation):
                yield relation[key], ("product_tree", "relationships", i, key)
    for i, group in enumerate(_list(tree.get("product_groups"))):
        for j, member in enumerate(_list(_dict(group).get("product_ids"))):
            yield member, ("product_tree", "product_groups", i, "product_ids", j)
    for v, vulnerability in enumerate(_list(data.get("vulnerabilities"))):
        vulnerability = _dict(vulnerability)
        for name, ids in _dict(vulnerability.get("product_status")).items():
            for j, product_id in enumerate(_list(ids)):
                yield product_id, ("vulnerabilities", v, "product_status", name, j)
        for s, score in enumerate(_list(vulnerability.get("scores"))):
            for j, product_id in enumerate(_list(_dict(score).get("products"))):
                yield product_id, ("vulnerabilities", v, "scores", s, "products", j)
        for kind in ("remediations", "threats", "flags"):
            for r, item in enumerate(_list(vulnerability.get(kind))):
                for j, product_id in enumerate(_list(_dict(item).get("product_ids"))):
                    yield product_id, ("vulnerabilities", v, kind, r, "product_ids", j)


def _group_references(data: dict[str, Any]) -> Iterator[tuple[Any, Where]]:
    for v, vulnerability in enumerate(_list(data.get("vulnerabilities"))):
        for kind in ("remediations", "threats", "flags"):
            for r, item in enumerate(_list(_dict(vulnerability).get(kind))):
                for j, group_id in enumerate(_list(_dict(item).get("group_ids"))):
                    yield group_id, ("vulnerabilities", v, kind, r, "group_ids", j)


def _strings(pairs: Iterator[tuple[Any, Where]]) -> Iterator[tuple[str, Where]]:
    """The IDs that are strings: one of another type is the schema's to report, not a reference to follow."""
    return ((value, where) for value, where in pairs if isinstance(value, str))


def _products_and_groups(data: dict[str, Any], file: str) -> list[PointerProblem]:
    problems: list[PointerProblem] = []
    defined: dict[str, Where] = {}
    for product_id, where in _strings(_definitions(data)):
        if product_id in defined:
            problems.append(failed(file, where, "6.1.2", "product_id defined twice", product_id))
        defined.setdefault(product_id, where)
    for product_id, where in _strings(_references(data)):
        if product_id not in defined:
            problems.append(
                failed(file, where, "6.1.1", "refers to a product_id the product tree does not define", product_id)
            )
    groups: dict[str, Where] = {}
    for i, group in enumerate(_list(_dict(data.get("product_tree")).get("product_groups"))):
        group_id = _dict(group).get("group_id")
        where = ("product_tree", "product_groups", i, "group_id")
        if not isinstance(group_id, str):
            continue  # the schema's to report
        if group_id in groups:
            problems.append(failed(file, where, "6.1.5", "group_id defined twice", group_id))
        groups.setdefault(group_id, where)
    for group_id, where in _strings(_group_references(data)):
        if group_id not in groups:
            problems.append(
                failed(file, where, "6.1.4", "refers to a group_id the product tree does not define", group_id)
            )
    problems.extend(_circles(data, file))
    return problems


def _circles(data: dict[str, Any], file: str) -> list[PointerProblem]:
    """6.1.3: a product a relationship defines must not be built, directly or through others, from itself."""
    edges: dict[str, set[str]] = {}
    places: dict[str, Where] = {}
    for i, relation in enumerate(_list(_dict(data.get("product_tree")).get("relationships"))):
        relation = _dict(relation)
        new_id = _dict(relation.get("full_product_name")).get("product_id")
        if not isinstance(new_id, str):
            continue
        refs = [relation.get(key) for key in ("product_reference", "relates_to_product_reference")]
        edges.setdefault(new_id, set()).update(ref for ref in refs if isinstance(ref, str))
        places.setdefault(new_id, ("product_tree", "relationships", i, "full_product_name", "product_id"))
    problems = []
    for start in sorted(edges):
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            current = stack.pop()
            if current == start:
                problems.append(failed(file, places[start], "6.1.3", "the product is defined through itself", start))
                break
            if current in seen:
                continue
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return problems


# --- product status, scores, flags ----------------------------------------------------------------------------------


def _groups_of(data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        group["group_id"]: [p for p in _list(group.get("product_ids")) if isinstance(p, str)]
        for group in map(_dict, _list(_dict(data.get("product_tree")).get("product_groups")))
        if isinstance(group.get("group_id"), str)
    }


def _status_and_flags(data: dict[str, Any], file: str) -> list[PointerProblem]:
    problems: list[PointerProblem] = []
    groups = _groups_of(data)
    for v, vulnerability in enumerate(_list(data.get("vulnerabilities"))):
        vulnerability = _dict(vulnerability)
        seen: dict[str, str] = {}
        for name, ids in _dict(vulnerability.get("product_status")).items():
            group = _STATUS_GROUPS.get(name)
            if group is None:
                continue
            for j, product_id in enumerate(_list(ids)):
                other = seen.setdefault(product_id, group)
                if other != group:
                    where = ("vulnerabilities", v, "product_status", name, j)
                    message = f"the product is both {other} and {group}"
                    problems.append(failed(file, where, "6.1.6", message, product_id))
        flagged: set[str] = set()
        for f, flag in enumerate(_list(vulnerability.get("flags"))):
            flag = _dict(flag)
            flag_at: Where = ("vulnerabilities", v, "flags", f)
            if not flag.get("product_ids") and not flag.get("group_ids"):
                problems.append(failed(file, flag_at, "6.1.32", "a flag names no product_ids and no group_ids"))
                continue
            members = set(_list(flag.get("product_ids")))
            for group_id in _list(flag.get("group_ids")):
                members.update(groups.get(group_id, ()))
            for product_id in sorted(members & flagged):
                problems.append(failed(file, flag_at, "6.1.33", "the product has more than one flag", product_id))
            flagged |= members
    return problems


def _metrics(vector: str, prefix: bool) -> dict[str, str]:
    parts = vector.split("/")[1:] if prefix else vector.split("/")
    return dict(part.split(":", 1) for part in parts if ":" in part)


def _cvss_object(
    cvss: dict[str, Any], version: str, where: Where, file: str
) -> tuple[list[PointerProblem], str | None]:
    """Problems of one cvss_v2/cvss_v3 object (6.1.8-6.1.10) and, when valid, its `version` for 6.1.7."""
    is_v3 = version == "v3"
    required = (
        ("version", "vectorString", "baseScore", "baseSeverity") if is_v3 else ("version", "vectorString", "baseScore")
    )
    missing = [key for key in required if key not in cvss]
    if missing:
        return [failed(file, where, "6.1.8", f"the CVSS object lacks {', '.join(missing)}")], None
    vector, stated_version = cvss["vectorString"], cvss["version"]
    allowed_versions = ("3.0", "3.1") if is_v3 else ("2.0",)
    if stated_version not in allowed_versions or not isinstance(vector, str):
        return [
            failed(
                file,
                (*where, "version"),
                "6.1.8",
                f"version must be one of {', '.join(allowed_versions)}",
                stated_version,
            )
        ], None
    if is_v3 and not vector.startswith(f"CVSS:{stated_version}/"):
        return [
            failed(file, (*where, "vectorString"), "6.1.8", f"the vector is not a CVSS {stated_version} vector", vector)
        ], None
    for key in ("baseScore", "temporalScore", "environmentalScore"):
        value = cvss.get(key)
        if key in cvss and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10):
            return [failed(file, (*where, key), "6.1.8", "a score is a number from 0 to 10", value)], None
    try:
        calculated: CVSS2 | CVSS3 = CVSS3(vector) if is_v3 else CVSS2(vector)
    except (CVSSError, ValueError, KeyError, IndexError, AttributeError) as exc:
        return [failed(file, (*where, "vectorString"), "6.1.8", f"not a valid vector: {exc}", vector)], None
    problems: list[PointerProblem] = []
    scores = calculated.scores()
    for index, key in enumerate(("baseScore", "temporalScore", "environmentalScore")):
        if key in cvss and float(cvss[key]) != float(scores[index]):
            message = f"{key} {cvss[key]} contradicts the vector, which gives {scores[index]}"
            problems.append(failed(file, (*where, key), "6.1.9", message, vector))
    if isinstance(calculated, CVSS3):
        severities = calculated.severities()
        for index, key in enumerate(("baseSeverity", "temporalSeverity", "environmentalSeverity")):
            if key in cvss and cvss[key] != str(severities[index]).upper():
                message = f"{key} {cvss[key]} contradicts the vector, which gives {str(severities[index]).upper()}"
                problems.append(failed(file, (*where, key), "6.1.9", message))
        if cvss["baseSeverity"] not in _SEVERITIES:
            problems.append(
                failed(file, (*where, "baseSeverity"), "6.1.8", "not a CVSS severity", cvss["baseSeverity"])
            )
    metrics = _metrics(vector, prefix=is_v3)
    for key, (metric, values) in (_V3_PROPERTIES if is_v3 else _V2_PROPERTIES).items():
        # A property whose metric the vector leaves out is not contradicted by it (the corpus's valid documents).
        if key not in cvss or metric not in metrics:
            continue
        expected = metrics[metric]
        if values.get(cvss[key]) != expected and not (expected in ("X", "ND") and cvss[key] == "NOT_DEFINED"):
            message = f"{key} {cvss[key]} contradicts {metric}:{expected} of the vector"
            problems.append(failed(file, (*where, key), "6.1.10", message, vector))
    return problems, f"{version}:{stated_version}"


def _scores(data: dict[str, Any], file: str) -> list[PointerProblem]:
    problems: list[PointerProblem] = []
    for v, vulnerability in enumerate(_list(data.get("vulnerabilities"))):
        seen: set[tuple[str, str]] = set()
        for s, score in enumerate(_list(_dict(vulnerability).get("scores"))):
            score = _dict(score)
            for version in ("v2", "v3"):
                key = f"cvss_{version}"
                if key not in score:
                    continue
                where = ("vulnerabilities", v, "scores", s, key)
                found, label = _cvss_object(_dict(score[key]), version, where, file)
                problems.extend(found)
                if label is None:
                    continue
                for j, product_id in enumerate(_list(score.get("products"))):
                    if (product_id, label) in seen:
                        message = f"the product has more than one CVSS {label.split(':')[1]} score"
                        problems.append(
                            failed(
                                file, ("vulnerabilities", v, "scores", s, "products", j), "6.1.7", message, product_id
                            )
                        )
                    seen.add((product_id, label))
    return problems


# --- document version and revision history ----------------------------------------------------------------------------


def version_key(version: str) -> tuple[Any, ...]:
    """Sort key of an integer or semantic version (semver 2.0 precedence; build metadata ignored)."""
    if version.isdigit():
        return (int(version),)
    match = _SEMVER.match(version)
    if match is None:
        return (-1,)
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def _pre_release(version: str) -> bool:
    match = _SEMVER.match(version)
    return bool(match and match[4])


def _major(version: str) -> int:
    return int(version) if version.isdigit() else int(version.split(".", 1)[0])


def _without_build(version: str) -> str:
    return version.split("+", 1)[0]


def _revisions(data: dict[str, Any], file: str) -> list[PointerProblem]:
    document = _dict(data.get("document"))
    tracking = _dict(document.get("tracking"))
    status, version = tracking.get("status"), tracking.get("version")
    history = [(i, _dict(item)) for i, item in enumerate(_list(tracking.get("revision_history")))]
    history = [
        (i, item) for i, item in history if isinstance(item.get("number"), str) and isinstance(item.get("date"), str)
    ]
    if not isinstance(version, str):
        return []
    problems: list[PointerProblem] = []
    released = status in ("final", "interim")
    here: Where = ("document", "tracking")

    if _dict(document.get("publisher")).get("category") == "translator" and "source_lang" not in document:
        problems.append(
            failed(file, ("document", "source_lang"), "6.1.15", "a translator's document needs source_lang")
        )
    if (version == "0" or version.startswith("0.") or _pre_release(version)) and status != "draft":
        problems.append(failed(file, (*here, "status"), "6.1.17", f"version {version} requires status draft", status))
    if released and _pre_release(version):
        problems.append(
            failed(file, (*here, "version"), "6.1.20", f"a {status} document has a pre-release version", version)
        )

    numbers: dict[str, int] = {}
    for i, item in history:
        number = item["number"]
        where = (*here, "revision_history", i, "number")
        if released and (number == "0" or number.startswith("0.")):
            problems.append(failed(file, where, "6.1.18", f"a {status} document has revision {number}", number))
        if _pre_release(number):
            problems.append(failed(file, where, "6.1.19", "a revision has a pre-release version", number))
        if number in numbers:
            problems.append(failed(file, where, "6.1.22", f"revision {number} appears twice", number))
        numbers.setdefault(number, i)
    if not history:
        return problems

    def moment(item: dict[str, Any]) -> float:
        try:
            parsed = datetime.fromisoformat(item["date"].replace("Z", "+00:00"))
        except ValueError:
            return float("-inf")
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()

    by_date = sorted(history, key=lambda entry: (moment(entry[1]), version_key(entry[1]["number"])))
    keys = [version_key(item["number"]) for _, item in by_date]
    if keys != sorted(keys):
        problems.append(
            failed(file, (*here, "revision_history"), "6.1.14", "revision numbers do not ascend with their dates")
        )
    latest = max((item["number"] for _, item in history), key=version_key)
    stated, last = _without_build(version), _without_build(latest)
    if status == "draft":
        stated, last = stated.split("-", 1)[0], last.split("-", 1)[0]
    if stated != last:
        message = f"version {version} is not the latest revision ({latest})"
        problems.append(failed(file, (*here, "version"), "6.1.16", message, version))
    majors = [_major(item["number"]) for _, item in by_date]
    if majors and majors[0] not in (0, 1):
        problems.append(
            failed(
                file,
                (*here, "revision_history"),
                "6.1.21",
                f"the first revision is {by_date[0][1]['number']}, not 0 or 1",
            )
        )
    for previous, current in pairwise(majors):
        if current > previous + 1:
            message = f"revision {previous + 1} is missing between {previous} and {current}"
            problems.append(failed(file, (*here, "revision_history"), "6.1.21", message))
            break
    return problems


def run(data: dict[str, Any], file: str) -> Sequence[PointerProblem]:
    """Every enforced mandatory test's problems, in document order of the tests."""
    return [
        *_products_and_groups(data, file),
        *_status_and_flags(data, file),
        *_scores(data, file),
        *_revisions(data, file),
    ]
