"""CSAF 2.0 mandatory tests: each enforced test refuses a document that breaks it, naming the test's number; valid
documents (semver +build versions, relationships that refer forward) are accepted; dates are bounded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from patchorch.errors import AdvisoryError
from patchorch.sources.advisories import parse_document
from tests.advisories.conftest import CSAF, fixture_json

Doc = dict[str, Any]


def _parse(data: Doc) -> Any:
    return parse_document(json.dumps(data).encode(), "x.json")


def _status(data: Doc) -> Doc:
    status: Doc = data["vulnerabilities"][0]["product_status"]
    return status


def _cvss(data: Doc) -> Doc:
    cvss: Doc = data["vulnerabilities"][0]["scores"][0]["cvss_v3"]
    return cvss


def _tracking(data: Doc) -> Doc:
    tracking: Doc = data["document"]["tracking"]
    return tracking


def _revisions(data: Doc, *numbers: str, status: str = "final") -> None:
    tracking = _tracking(data)
    tracking["revision_history"] = [
        {"date": f"2026-11-{19 + i:02d}T10:00:00+00:00", "number": n, "summary": "s"} for i, n in enumerate(numbers)
    ]
    tracking["version"] = numbers[-1]
    tracking["status"] = status


def _m6_1_1(data: Doc) -> None:
    data["vulnerabilities"][0]["threats"][0]["product_ids"] = ["T404"]


def _m6_1_2(data: Doc) -> None:
    data["product_tree"]["full_product_names"] = [{"name": "again", "product_id": "T000001"}]


def _m6_1_3(data: Doc) -> None:
    relation = data["product_tree"]["relationships"][0]
    relation["relates_to_product_reference"] = relation["full_product_name"]["product_id"]


def _m6_1_4(data: Doc) -> None:
    data["vulnerabilities"][0]["remediations"][0]["group_ids"] = ["CSAFGID-404"]


def _m6_1_5(data: Doc) -> None:
    group = {"group_id": "CSAFGID-1", "product_ids": ["T000001", "T000003"]}
    data["product_tree"]["product_groups"] = [group, dict(group)]


def _m6_1_6(data: Doc) -> None:
    _status(data)["known_not_affected"] = ["T000001"]


def _m6_1_7(data: Doc) -> None:
    data["vulnerabilities"][0]["scores"].append(dict(data["vulnerabilities"][0]["scores"][0]))


def _m6_1_8(data: Doc) -> None:
    del _cvss(data)["vectorString"]


def _m6_1_9(data: Doc) -> None:
    _cvss(data)["baseScore"] = 5.0


def _m6_1_10(data: Doc) -> None:
    _cvss(data)["attackVector"] = "LOCAL"


def _m6_1_14(data: Doc) -> None:
    _revisions(data, "1", "3", "2")
    _tracking(data)["version"] = "3"


def _m6_1_15(data: Doc) -> None:
    data["document"]["publisher"]["category"] = "translator"
    data["document"].pop("source_lang", None)


def _m6_1_16(data: Doc) -> None:
    _tracking(data)["version"] = "1"


def _m6_1_17(data: Doc) -> None:
    _revisions(data, "0")
    _tracking(data)["status"] = "interim"


def _m6_1_18(data: Doc) -> None:
    _revisions(data, "0", "1")


def _m6_1_19(data: Doc) -> None:
    _revisions(data, "1.0.0-rc.1", "1.0.0")


def _m6_1_20(data: Doc) -> None:
    _revisions(data, "1.0.0", "1.1.0-rc.1")
    _tracking(data)["status"] = "final"


def _m6_1_21(data: Doc) -> None:
    _revisions(data, "1", "3")


def _m6_1_22(data: Doc) -> None:
    _revisions(data, "1", "1")


def _m6_1_32(data: Doc) -> None:
    data["vulnerabilities"][0]["flags"] = [{"label": "component_not_present"}]


def _m6_1_33(data: Doc) -> None:
    flag = {"label": "component_not_present", "product_ids": ["T000002"]}
    data["vulnerabilities"][0]["flags"] = [flag, {**flag, "label": "vulnerable_code_not_present"}]


CASES: dict[str, Callable[[Doc], None]] = {
    name.removeprefix("_m").replace("_", "."): function
    for name, function in dict(globals()).items()
    if name.startswith("_m6_1_")
}


@pytest.mark.parametrize("test", sorted(CASES, key=lambda t: int(t.split(".")[-1])))
def test_each_enforced_mandatory_test_refuses_and_names_its_number(test: str) -> None:
    """A document breaking one mandatory test is refused with the test's number in the message."""
    data = fixture_json(CSAF)
    CASES[test](data)
    with pytest.raises(AdvisoryError) as caught:
        _parse(data)
    assert any(f"CSAF 2.0 mandatory test {test} (" in str(problem) for problem in caught.value.problems)


def test_the_enforced_list_covers_the_tests_the_issue_names() -> None:
    """6.1.1-6.1.10, 6.1.14-6.1.22 and the flag tests each have a case above."""
    wanted = {f"6.1.{n}" for n in [*range(1, 11), *range(14, 23), 32, 33]}
    assert set(CASES) == wanted


def test_fixture_passes_every_mandatory_test() -> None:
    """The unmodified fixture is a valid document."""
    assert _parse(fixture_json(CSAF)).advisories


def test_semver_build_metadata_is_accepted() -> None:
    """`1.0.0+build.5` is a valid document version (build metadata ignored when ordering)."""
    data = fixture_json(CSAF)
    _revisions(data, "1.0.0+build.4", "2.0.0+build.5")
    (advisory,) = _parse(data).advisories
    assert advisory.revision == "2.0.0+build.5"
    assert advisory.revision_key == (2, 0, 0, 1)


def test_forward_referencing_relationship_is_accepted() -> None:
    """A relationship may name a product that the tree defines after it."""
    data = fixture_json(CSAF)
    tree = data["product_tree"]
    tree["relationships"][0]["product_reference"] = "T000099"
    tree["full_product_names"] = [
        {
            "name": "acme-mta 0.9-2 (Debian 11)",
            "product_id": "T000099",
            "product_identification_helper": {"purl": "pkg:deb/debian/acme-mta@0.9-2?arch=amd64"},
        }
    ]
    assert _parse(data).advisories


def test_relationship_chains_resolve_to_the_base_platform() -> None:
    """A product built on a relationship product takes the distribution of the platform at the end of the chain."""
    data = fixture_json(CSAF)
    first = data["product_tree"]["relationships"][0]
    chained = {
        "category": "installed_on",
        "full_product_name": {"name": "chained", "product_id": "CHAIN"},
        "product_reference": first["full_product_name"]["product_id"],
        "relates_to_product_reference": first["relates_to_product_reference"],
    }
    data["product_tree"]["relationships"].append(chained)
    _status(data)["known_affected"].append("CHAIN")
    (advisory,) = _parse(data).advisories
    assert "debian-11" in {p.distro for p in advisory.affected}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("document", "tracking", "initial_release_date"), "9999-12-31T23:59:59+00:00"),
        (("document", "tracking", "current_release_date"), "0001-01-01T00:00:00+00:00"),
    ],
)
def test_dates_outside_the_bounded_years_are_refused(where: tuple[str, ...], value: str) -> None:
    """Year 9999 (or year 1) is refused at import rather than overflowing a later due-date computation."""
    data = fixture_json(CSAF)
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(AdvisoryError, match=r"outside 1970\.\.2999"):
        _parse(data)


def test_kev_due_date_in_year_9999_is_refused() -> None:
    """A KEV entry due in 9999 is refused."""
    from tests.advisories.conftest import KEV

    data = fixture_json(KEV)
    data["vulnerabilities"][0]["dueDate"] = "9999-12-31"
    with pytest.raises(AdvisoryError, match="dueDate"):
        _parse(data)
