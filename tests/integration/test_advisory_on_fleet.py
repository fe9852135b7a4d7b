"""Advisory intake end to end on the test fleet: import, facts, exposure, rollout --advisory, exposure again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from patchorch.cli._app import main
from patchorch.orchestrator.facts import refresh_facts
from patchorch.orchestrator.workspace import Workspace
from patchorch.sources.inventory import load_fleet
from patchorch.store.advisories import AdvisoryStore, fact_hosts_table
from patchorch.store.runs import create_store_engine
from patchorch.testing import FakeClock
from patchorch.testing.fleet import TestFleet
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


def test_facts_record_the_os_cpe_published_in_os_release_else_derived(test_fleet: TestFleet, state_dir: Path) -> None:
    """A real bookworm host (no CPE_NAME in os-release) records the derived Debian CPE; one whose os-release is given
    a CPE_NAME records that one as published."""
    plain, published = (host.name for host in test_fleet.hosts[:2])
    assert "CPE_NAME" not in test_fleet.exec(plain, "cat", "/etc/os-release").stdout
    workspace = Workspace.open(state_dir, actor="ops@bastion", clock=FakeClock(datetime.now(UTC)))
    engine = create_store_engine(f"sqlite:///{state_dir / 'patchorch.db'}")
    store = AdvisoryStore(engine)
    store.create_tables()
    fleet = load_fleet([test_fleet.inventory_path]).fleet
    # /etc/os-release is a link to /usr/lib/os-release on Debian: replace the link by a copy naming a CPE, then restore.
    edit = (
        "cp --remove-destination /usr/lib/os-release /etc/os-release && "
        "echo 'CPE_NAME=\"cpe:/o:debian:debian_linux:12::test\"' >> /etc/os-release"
    )
    test_fleet.exec(published, "sh", "-c", edit)
    try:
        result = refresh_facts(
            workspace, store, fleet, [test_fleet.inventory_path], in_limit=frozenset({plain, published})
        )
    finally:
        test_fleet.exec(published, "ln", "-sf", "../usr/lib/os-release", "/etc/os-release")
    assert sorted(result.refreshed) == sorted([plain, published])
    with engine.connect() as connection:
        rows = connection.execute(
            select(fact_hosts_table.c.host, fact_hosts_table.c.os_cpe, fact_hosts_table.c.os_cpe_source)
        )
        recorded = {row.host: (row.os_cpe, row.os_cpe_source) for row in rows}
    assert recorded == {
        plain: ("cpe:/o:debian:debian_linux:12", "derived"),
        published: ("cpe:/o:debian:debian_linux:12::test", "os-release"),
    }
