"""`patchorch advisories import|list|show` and `patchorch exposure`, run in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from patchorch.cli._app import main
from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.store.advisories import AdvisoryStore
from tests.advisories.conftest import CSAF, FIXTURES, fixture_json
from tests.advisories.documents import bsi_cpe_only, usn_with_ubuntu_cve_aliases, write

INVENTORY = """\
all:
  hosts:
    mx1:
      patchorch_owner: {team: mail, contact: mail-oncall@example.org}
      patchorch_exposure: internet
      patchorch_criticality: high
    db1:
      patchorch_owner: {team: dba, contact: dba@example.org}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A YAML inventory of two hosts with owners."""
    path = tmp_path / "inventory.yml"
    path.write_text(INVENTORY, encoding="utf-8")
    return path


def _run(tmp_path: Path, *args: str) -> int:
    return main(["--state-dir", str(tmp_path / "state"), *args])


def _save_mx1_facts(tmp_path: Path) -> None:
    store = AdvisoryStore(create_engine(f"sqlite:///{tmp_path / 'state' / 'patchorch.db'}"))
    store.save_facts(
        "mx1",
        [PackageFact(name="acme-mta", version="1.0-1", source="acme-mta")],
        OsRelease(family="debian", version="12", manager="dpkg"),
        datetime.now(UTC),
    )


def test_bad_file_exits_2_naming_file_and_pointer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid advisory is one error line with the file and JSON pointer, exit 2, nothing stored."""
    data = fixture_json(CSAF)
    data["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = 11
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    assert _run(tmp_path, "advisories", "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert f"{bad}: /vulnerabilities/0/scores/0/cvss_v3/baseScore:" in err.replace("\n", "")


def test_import_twice_is_one_advisory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Importing the same file twice stores it once."""
    assert _run(tmp_path, "advisories", "import", str(CSAF)) == 0
    capsys.readouterr()
    assert _run(tmp_path, "advisories", "import", str(CSAF), "--json") == 0
    second = json.loads(capsys.readouterr().out)
    assert [o["status"] for o in second["outcomes"]] == ["unchanged"]
    assert _run(tmp_path, "advisories", "list", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in listing["advisories"]] == ["WID-SEC-W-2026-0042"]


def test_list_and_exposure_json_name_owners(
    tmp_path: Path, inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON of `advisories list` and `exposure` carries the owners of the hosts."""
    assert _run(tmp_path, "advisories", "import", str(FIXTURES)) == 0
    _save_mx1_facts(tmp_path)
    capsys.readouterr()
    assert _run(tmp_path, "advisories", "list", "--json", "-i", str(inventory)) == 0
    listing = {item["id"]: item for item in json.loads(capsys.readouterr().out)["advisories"]}
    assert listing["WID-SEC-W-2026-0042"]["owners"] == [
        {"team": "mail", "contact": "mail-oncall@example.org", "hosts": ["mx1"]}
    ]
    _run(tmp_path, "exposure", "--json", "-i", str(inventory), "--advisory", "WID-SEC-W-2026-0042")
    report = json.loads(capsys.readouterr().out)
    owners = {row["host"]: row["owner_team"] for row in report["rows"]}
    assert owners == {"db1": "dba", "mx1": "mail"}
    assert report["unknown_hosts"] == ["db1"]
    assert report["affected_hosts"] == ["mx1"]


def test_import_reports_products_it_could_not_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Import says how many products are not packages, how many map to nothing, and warns naming each of those."""
    data = bsi_cpe_only(extra_products=(("Acme", "Widget Server", "Acme Widget Server 7", None),))
    assert _run(tmp_path, "advisories", "import", str(write(tmp_path / "wid.json", data))) == 0
    captured = capsys.readouterr()
    words = " ".join(captured.out.split())
    assert "6 affected products are no package of a distribution release (1 could not be mapped at all)" in words
    assert "cannot map Acme Widget Server 7" in captured.err
    assert _run(tmp_path, "advisories", "import", str(tmp_path / "wid.json"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["unmapped"], len(report["products"])) == (1, 6)


def test_show_lists_packages_fixed_versions_cves_and_unmapped_products(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`advisories show ID --json` carries packages with fixed versions per distribution, CVEs and product claims."""
    assert _run(tmp_path, "advisories", "import", str(CSAF)) == 0
    capsys.readouterr()
    assert _run(tmp_path, "advisories", "show", "WID-SEC-W-2026-0042", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["cves"] == ["CVE-2026-10001"]
    fixed = {(p["name"], p["distro"]): p["fixed"] for p in shown["packages"]}
    assert fixed[("acme-mta", "rhel-9")] == ["1.0-2.el9"]
    assert [p["name"] for p in shown["products"]] == ["Acme MTA Appliance 4.2"]
    assert _run(tmp_path, "advisories", "show", "WID-SEC-W-2026-0042") == 0
    text = capsys.readouterr().out
    assert "0.9-3+deb11u1" in text
    assert "Acme MTA Appliance 4.2" in text


def test_show_of_an_unknown_id_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ID the store does not have is bad input."""
    assert _run(tmp_path, "advisories", "show", "WID-SEC-W-0000-0000") == 2
    assert "no advisory 'WID-SEC-W-0000-0000'" in capsys.readouterr().err


def test_list_json_carries_unmapped_products(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`advisories list --json` shows packages and the products that map to nothing."""
    data = bsi_cpe_only(extra_products=(("Acme", "Widget Server", "Acme Widget Server 7", None),))
    assert _run(tmp_path, "advisories", "import", str(write(tmp_path / "wid.json", data))) == 0
    capsys.readouterr()
    assert _run(tmp_path, "advisories", "list", "--json") == 0
    (item,) = json.loads(capsys.readouterr().out)["advisories"]
    assert item["packages"] == []
    assert [p["name"] for p in item["unmapped_products"]] == ["Acme Widget Server 7"]


def test_osv_id_kev_prefixed_does_not_replace_the_kev_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An OSV record with the ID `KEV:CVE-...` is a conflict; the KEV entry stays as imported."""
    assert _run(tmp_path, "advisories", "import", str(FIXTURES / "kev-catalog.json")) == 0
    record = usn_with_ubuntu_cve_aliases() | {"id": "KEV:CVE-2026-10001"}
    capsys.readouterr()
    assert _run(tmp_path, "advisories", "import", str(write(tmp_path / "osv.json", record))) == 0
    assert "belongs to a stored kev advisory" in capsys.readouterr().err
    assert _run(tmp_path, "advisories", "show", "KEV:CVE-2026-10001", "--json") == 0
    assert json.loads(capsys.readouterr().out)["source"] == "kev"


def test_year_9999_exits_2_at_import_and_nothing_is_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A date in year 9999 is bad input at import (exit 2), so `exposure` never meets it."""
    data = fixture_json(CSAF)
    data["document"]["tracking"]["initial_release_date"] = "9999-12-31T23:59:59+00:00"
    assert _run(tmp_path, "advisories", "import", str(write(tmp_path / "late.json", data))) == 2
    assert "/document/tracking/initial_release_date" in capsys.readouterr().err.replace("\n", "")
    assert _run(tmp_path, "advisories", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["advisories"] == []
