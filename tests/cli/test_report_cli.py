"""`patchorch report` as a command: files written, JSON on stdout, bad --since refused, a broken chain exits 1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs
from patchorch.orchestrator.planning import plan_rollout
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock, SimulatedExecutor

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A state directory with one completed simulated emergency rollout of the example inventory."""
    state = tmp_path / "state"
    clock = FakeClock()
    workspace = Workspace.open(state, actor="ops@bastion", clock=clock, executor=SimulatedExecutor(clock=clock))
    plan = plan_rollout([EXAMPLE], emergency=True, now=clock.now())
    workspace.start(plan, inventory=[EXAMPLE], inputs=RunInputs(inventory=(str(EXAMPLE),)))
    return state


def test_report_writes_html_and_csv_and_prints_a_summary(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json the page and the CSV files are written and one summary line names the counts."""
    page, csv_dir = tmp_path / "out.html", tmp_path / "csv"
    assert main(["--state-dir", str(recorded), "report", "-o", str(page), "--csv", str(csv_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 run(s)" in out
    assert f"report written to {page}" in out
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert len(list(csv_dir.glob("*.csv"))) == 9


def test_report_json_without_inventory_says_owners_are_unknown(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints the report; without an inventory it says so and still counts the runs."""
    capsys.readouterr()
    assert main(["--state-dir", str(recorded), "report", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inventory_given"] is False
    assert data["totals"]["runs"] == 1
    assert data["audit"]["intact"] is True


def test_report_opens_the_store_once(recorded: Path, engines_opened: list[object]) -> None:
    """The report reads runs and advisories through one database engine."""
    assert main(["--state-dir", str(recorded), "report", "--json"]) == 0
    assert len(engines_opened) == 1


def test_bad_since_is_one_error_naming_the_flag(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --since that is no date exits 2 with one line naming --since and what it accepts."""
    assert main(["--state-dir", str(recorded), "report", "--json", "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err
    assert "YYYY-MM-DD" in err


def test_report_on_an_edited_audit_log_exits_1_and_says_so(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An audit record edited behind patchorch's back shows in the report as a broken chain, and the exit is 1."""
    with sqlite3.connect(recorded / "patchorch.db") as conn:
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    capsys.readouterr()
    assert main(["--state-dir", str(recorded), "report", "--json"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["audit"]["intact"] is False
    assert data["audit"]["first_bad_record"] == 2
    assert "audit chain broken" in captured.err
