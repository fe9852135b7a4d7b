"""`patchorch advisories import|list` and `patchorch exposure`, run in-process."""

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
