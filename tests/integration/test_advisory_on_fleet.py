"""Advisory intake end to end on the test fleet: import, facts, exposure, rollout --advisory, exposure again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchorch.cli._app import main
from tests.advisories.documents import bsi_cpe_only
from tests.integration.conftest import NEW, Fleet

pytestmark = pytest.mark.fleet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "advisories"
ADVISORY = "WID-SEC-W-2026-0042"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_rollout_for_an_advisory_patches_exactly_the_affected_hosts(
    fresh: Fleet, state_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """exposure lists the hosts on the affected version; rollout --advisory patches them; then exposure lists none;
    a CPE-only advisory naming Debian leaves every host UNKNOWN with its owner to ask."""
    fresh.fleet.exec("relay1", "apt-get", "install", "-y", "-q", f"acme-mta={NEW}")  # already fixed
    common = ["--state-dir", str(state_dir)]
    inventory = ["-i", str(fresh.inventory)]
    # CERT-Bund's advisory plus CISA's catalogue, which lists its CVE as exploited: the decision is immediate.
    documents = [str(FIXTURES / "csaf-acme-mta.json"), str(FIXTURES / "kev-catalog.json")]
    assert main([*common, "advisories", "import", *documents]) == 0
    assert main([*common, "facts", "refresh", *inventory]) == 0

    status, report = _json(capsys, *common, "exposure", "--advisory", ADVISORY, "--json", *inventory)
    expected = sorted(h.name for h in fresh.fleet.hosts if h.name != "relay1")
    assert report["affected_hosts"] == expected
    assert status == 1
    rows = report["rows"]
    assert isinstance(rows, list)
    assert all(row["owner_team"] for row in rows if row["status"] == "affected")
    assert {row["host"]: row["status"] for row in rows}[fresh.fleet.decommissioned_host] == "decommissioned"

    relay_upgrades = fresh.upgrades("relay1")  # the manual upgrade above
    rollout = [*common, "rollout", "--advisory", ADVISORY, "--yes", "--max-wait", "0", *inventory]
    assert main([*rollout, "--policy", str(fresh.fleet.policy_path)]) == 0
    capsys.readouterr()
    assert main([*common, "runs", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)[0]
    assert run["mode"] == "emergency"
    assert all(fresh.upgrades(host) == 1 for host in expected)
    assert fresh.upgrades("relay1") == relay_upgrades
    _, shown = _json(capsys, *common, "show", run["id"], "--json")
    attempts = shown["attempts"]
    assert isinstance(attempts, list)
    assert sorted({a["host"] for a in attempts}) == expected

    assert main([*common, "facts", "refresh", *inventory]) == 0
    status, report = _json(capsys, *common, "exposure", "--advisory", ADVISORY, "--json", *inventory)
    assert report["affected_hosts"] == []
    assert report["unknown_hosts"] == []
    assert status == 0

    # A CPE-only BSI advisory naming "Debian Linux": every fleet host (Debian bookworm, real dpkg facts) is UNKNOWN,
    # never "not affected", and each row names its owner to ask.
    bsi = tmp_path_factory.mktemp("bsi") / "wid-sec.json"
    bsi.write_text(json.dumps(bsi_cpe_only()), encoding="utf-8")
    assert main([*common, "advisories", "import", str(bsi)]) == 0
    status, report = _json(capsys, *common, "exposure", "--advisory", "WID-SEC-W-2026-3001", "--json", *inventory)
    assert status == 1
    active = [row for row in report["rows"] if row["status"] != "decommissioned"]
    assert {row["status"] for row in active} == {"unknown"}
    assert all("Debian Linux" in row["reason"] and "ask the owner" in row["reason"] for row in active)
