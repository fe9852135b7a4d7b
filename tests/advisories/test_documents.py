"""Reading CSAF, KEV and OSV documents: normalisation, strictness, limits and errors with JSON pointers."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchorch.domain.advisory import AdvisorySource, Ecosystem, Exploitation
from patchorch.errors import AdvisoryError
from patchorch.sources.advisories import load_document, parse_document
from patchorch.sources.advisories._cvss import base_score
from patchorch.sources.advisories._document import MAX_BYTES, MAX_DEPTH, pointer
from tests.advisories.conftest import CSAF, KEV, OSV, OSV_WITHDRAWN, fixture_json


def _parse(data: Any, file: str = "advisories/x.json") -> Any:
    return parse_document(json.dumps(data).encode(), file)


def test_csaf_fixture_normalises_packages_per_distribution() -> None:
    """The CSAF advisory yields one affected package per distribution with its fixed version."""
    loaded = load_document(CSAF)
    assert loaded.format is AdvisorySource.CSAF
    (advisory,) = loaded.advisories
    assert advisory.id == "WID-SEC-W-2026-0042"
    assert advisory.revision == "2"
    assert advisory.cves == ("CVE-2026-10001",)
    assert advisory.cvss == 9.8
    assert advisory.exploitation is Exploitation.POC
    fixed = {(p.ecosystem, p.distro): p.fixed_versions for p in advisory.affected}
    assert fixed == {
        (Ecosystem.DEB, "debian-12"): ("1.0-2",),
        (Ecosystem.DEB, "debian-11"): ("0.9-3+deb11u1",),
        (Ecosystem.RPM, "rhel-9"): ("1.0-2.el9",),
    }
    assert advisory.unresolved == ("T000020",)


def test_kev_fixture_gives_one_advisory_per_entry() -> None:
    """Each KEV entry is an actively exploited advisory with its due date."""
    advisories = load_document(KEV).advisories
    assert [a.id for a in advisories] == ["KEV:CVE-2026-10001", "KEV:CVE-2026-20002"]
    first = advisories[0]
    assert first.exploitation is Exploitation.ACTIVE
    assert first.kev is not None
    assert first.kev.due_date.isoformat() == "2026-12-13"
    assert advisories[1].kev is not None
    assert advisories[1].kev.known_ransomware


def test_osv_fixture_reads_debian_range() -> None:
    """The OSV DSA record affects acme-mta on Debian 12 below 1.0-2."""
    (advisory,) = load_document(OSV).advisories
    assert advisory.source is AdvisorySource.OSV
    assert advisory.cves == ("CVE-2026-10001",)
    ranged = [p for p in advisory.affected if p.events]
    assert [(p.distro, p.name, p.fixed_versions) for p in ranged] == [("debian-12", "acme-mta", ("1.0-2",))]


def test_withdrawn_osv_record_is_marked_withdrawn() -> None:
    """A withdrawn OSV record is read and marked, so matching can ignore it."""
    (advisory,) = load_document(OSV_WITHDRAWN).advisories
    assert advisory.withdrawn is not None


def test_bad_score_names_file_and_json_pointer() -> None:
    """A CVSS base score above 10 is refused with the file and the pointer of the value."""
    data = fixture_json(CSAF)
    data["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = 11.5
    with pytest.raises(AdvisoryError) as caught:
        _parse(data)
    assert str(caught.value).startswith("advisories/x.json: /vulnerabilities/0/scores/0/cvss_v3/baseScore: ")
    assert "11.5" in str(caught.value)


def test_score_as_string_is_refused() -> None:
    """Strict types: a base score written as a string is not coerced."""
    data = fixture_json(CSAF)
    data["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = "9.8"
    with pytest.raises(AdvisoryError, match="/vulnerabilities/0/scores/0/cvss_v3/baseScore"):
        _parse(data)


def test_undefined_product_id_is_refused() -> None:
    """A product_status entry must name a product of the product tree."""
    data = fixture_json(CSAF)
    data["vulnerabilities"][0]["product_status"]["fixed"].append("T999999")
    with pytest.raises(
        AdvisoryError,
        match=r"/vulnerabilities/0/product_status/fixed/3: CSAF 2.0 mandatory test 6\.1\.1 .*refers to a product_id",
    ):
        _parse(data)


def test_pointer_escapes_slashes_in_keys() -> None:
    """A JSON pointer escapes '/' and '~' in keys (RFC 6901)."""
    assert pointer(("a/b", 0, "c~d")) == "/a~1b/0/c~0d"


def test_event_with_two_kinds_is_refused() -> None:
    """An OSV event has exactly one of introduced, fixed, last_affected, limit."""
    data = fixture_json(OSV)
    data["affected"][0]["ranges"][0]["events"][1] = {"fixed": "1.0-2", "introduced": "0"}
    with pytest.raises(AdvisoryError, match="/affected/0/ranges/0/events/1: "):
        _parse(data)


def test_kev_count_must_match() -> None:
    """The KEV catalogue's count must equal its entries."""
    data = fixture_json(KEV)
    data["count"] = 3
    with pytest.raises(AdvisoryError, match="count is 3"):
        _parse(data)


def test_unknown_format_is_refused() -> None:
    """A JSON object that is none of the three formats is refused at the document root."""
    with pytest.raises(AdvisoryError, match=r"not a CSAF 2\.0 document"):
        _parse({"hello": "world"})


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    """Files beyond the size limit are refused before parsing."""
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_BYTES + 1))
    with pytest.raises(AdvisoryError, match="larger than the limit"):
        load_document(path)


def test_deep_nesting_is_refused() -> None:
    """Nesting beyond the depth limit is refused."""
    data: Any = {"id": "X", "modified": "2026-01-01T00:00:00Z", "database_specific": {}}
    inner = data["database_specific"]
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(AdvisoryError, match="nested deeper"):
        _parse(data)


def test_very_deep_arrays_are_refused() -> None:
    """Nesting deep enough to exhaust the parser's recursion is an AdvisoryError too."""
    with pytest.raises(AdvisoryError):
        parse_document(b"[" * 100_000 + b"]" * 100_000, "deep.json")


def test_duplicate_keys_are_refused() -> None:
    """A document with a duplicate key is ambiguous and refused."""
    with pytest.raises(AdvisoryError, match="duplicate key 'id'"):
        parse_document(b'{"id": "A", "id": "B", "modified": "2026-01-01T00:00:00Z"}', "dup.json")


def test_missing_file_is_an_advisory_error(tmp_path: Path) -> None:
    """A file that cannot be read names the file."""
    with pytest.raises(AdvisoryError, match=r"missing\.json: cannot be read"):
        load_document(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss_base_score(vector: str, score: float) -> None:
    """Base scores from vectors match FIRST's calculator."""
    assert base_score(vector) == score


# --- fuzzing: any input gives a document or an AdvisoryError -------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)


def _outcome(raw: bytes) -> None:
    with contextlib.suppress(AdvisoryError):
        parse_document(raw, "fuzz.json")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_advisory_error(raw: bytes) -> None:
    """Arbitrary bytes never raise anything but AdvisoryError."""
    _outcome(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON)
def test_any_json_value_parses_or_advisory_error(value: Any) -> None:
    """Any JSON value never raises anything but AdvisoryError."""
    _outcome(json.dumps(value).encode())


def _mutations(base: Any) -> st.SearchStrategy[Any]:
    """The fixture with one value somewhere replaced by an arbitrary JSON value."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(base, ())

    def replace(path: tuple[Any, ...], value: Any) -> Any:
        document = json.loads(json.dumps(base))
        if not path:
            return value
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return document

    return st.builds(replace, st.sampled_from(paths), _JSON)


@pytest.mark.parametrize("fixture", [CSAF, KEV, OSV, OSV_WITHDRAWN], ids=lambda p: p.name)
def test_mutated_fixtures_parse_or_advisory_error(fixture: Path) -> None:
    """Each fixture with any one value replaced still gives a document or an AdvisoryError."""

    @settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
    @given(_mutations(fixture_json(fixture)))
    def check(document: Any) -> None:
        _outcome(json.dumps(document).encode())

    check()


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("vulnerabilities", 0, "product_status"), {"known_affected": [[]]}),
        (("product_tree", "product_groups"), [{"group_id": [], "product_ids": []}]),
        (("product_tree", "full_product_names"), [{"name": "x", "product_id": {}}]),
    ],
    ids=["status-list-of-lists", "group-id-list", "product-id-object"],
)
def test_csaf_ids_of_the_wrong_type_are_an_advisory_error(where: tuple[Any, ...], value: Any) -> None:
    """A product or group ID that is not a string (a list, an object) is an AdvisoryError, never a TypeError."""
    data = fixture_json(CSAF)
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    with pytest.raises(AdvisoryError):
        parse_document(json.dumps(data).encode(), "csaf.json")


def test_csaf_status_this_reader_does_not_know_is_ignored_whatever_it_holds() -> None:
    """A product status with a name CSAF does not define (here "") holding a list of lists is left out, not a crash
    (found by the fuzz test above)."""
    data = fixture_json(CSAF)
    data["vulnerabilities"][0]["product_status"][""] = [[]]
    unknown = parse_document(json.dumps(data).encode(), "csaf.json")
    assert unknown.advisories == parse_document(json.dumps(fixture_json(CSAF)).encode(), "csaf.json").advisories


def test_product_name_with_control_character_is_an_advisory_error() -> None:
    """A CSAF product named with a control character is refused as an AdvisoryError naming the product tree."""
    data = fixture_json(CSAF)
    appliance = data["product_tree"]["branches"][0]["branches"][0]["branches"][-1]["product"]
    assert appliance["product_id"] == "T000020"  # named by CPE only: it becomes a product claim
    appliance["name"] = "\x1f"
    with pytest.raises(AdvisoryError) as raised:
        parse_document(json.dumps(data).encode(), "csaf.json")
    assert "product_tree" in str(raised.value)
