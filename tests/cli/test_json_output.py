"""--json on the commands that act on a run: approve, abort, resume, render and audit verify print one JSON document."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.planning import plan_rollout
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock, SimulatedExecutor

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"
POLICY = EXAMPLE / "policy.yml"


@pytest.fixture
def waiting(tmp_path: Path) -> tuple[Path, str]:
    """A state directory with a simulated emergency run waiting for an approval."""
    state = tmp_path / "state"
    clock = FakeClock()
    workspace = Workspace.open(state, actor="ops@bastion", clock=clock, executor=SimulatedExecutor(clock=clock))
    plan = plan_rollout([EXAMPLE], POLICY, emergency=True, now=clock.now())
    report = workspace.start(plan, inventory=[EXAMPLE], inputs=RunInputs(inventory=(str(EXAMPLE),)))
    assert report.state is RunState.AWAITING_APPROVAL, report.reason
    return state, report.run_id


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    capsys.readouterr()
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_approve_json_is_the_approval_record(waiting: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    """approve --json prints who approved which stage, when, with the comment."""
    state, run_id = waiting
    status, data = _json(capsys, "--state-dir", str(state), "approve", run_id, "--comment", "CHG-1", "--json")
    assert status == 0
    assert isinstance(data, dict)
    assert (data["run_id"], data["comment"]) == (run_id, "CHG-1")
    assert data["stage"]
    assert data["approver"]


def test_abort_json_is_the_run_record_in_its_final_state(
    waiting: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """abort --json prints the run, now aborted, with the reason."""
    state, run_id = waiting
    status, data = _json(capsys, "--state-dir", str(state), "abort", run_id, "--reason", "change freeze", "--json")
    assert status == 0
    assert isinstance(data, dict)
    assert (data["id"], data["state"], data["state_reason"]) == (run_id, "aborted", "change freeze")


def test_resume_json_without_a_terminal_is_where_the_run_stands(
    waiting: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """resume --json on a run still unapproved prints its state and exits 3, with no display on stdout."""
    state, run_id = waiting
    status, data = _json(capsys, "--state-dir", str(state), "resume", run_id, "--json", "--max-wait", "0")
    assert status == 3
    assert isinstance(data, dict)
    assert (data["run"], data["state"]) == (run_id, "awaiting-approval")


def test_audit_verify_json_says_intact_or_where_it_broke(
    waiting: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """audit verify --json: intact with the record count; after an edit, not intact, naming the record, exit 1."""
    state, _ = waiting
    status, data = _json(capsys, "--state-dir", str(state), "audit", "verify", "--json")
    assert status == 0
    assert isinstance(data, dict)
    assert data["intact"] is True
    assert data["records"] > 0
    with sqlite3.connect(state / "patchorch.db") as conn:
        conn.execute("UPDATE audit SET data_json = '{}' WHERE seq = 1")
    status, data = _json(capsys, "--state-dir", str(state), "audit", "verify", "--json")
    assert status == 1
    assert isinstance(data, dict)
    assert (data["intact"], data["first_bad_record"]) == (False, 1)


def test_render_json_names_what_was_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """render --json lists the run directory, each stage playbook and the command to run it by hand."""
    out = tmp_path / "run"
    status, data = _json(capsys, "render", "-i", str(EXAMPLE), "--emergency", "-o", str(out), "--json")
    assert status == 0
    assert isinstance(data, dict)
    assert data["directory"] == str(out)
    assert all(Path(path).is_file() for path in data["stages"].values())
    assert "ansible-playbook" in data["run_by_hand"]
