"""The audit chain covers every state row: `verify_audit` recomputes runs, stages, attempts and approvals and names
the first record that does not match."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.errors import AuditChainError
from patchorch.store.runs import RunStore, approvals, attempts, audit, audit_head, runs, stages
from patchorch.testing import FakeClock
from tests.plans import make_plan

RELEASE_DUMP = Path(__file__).parent.parent / "fixtures" / "store" / "release-0.1.0.sql"


@pytest.fixture
def store(store_url: str) -> RunStore:
    """A store holding run r1: canary host a patched (9.9-1 -> 10.0-1), wave-1 approved, run halted."""
    result = RunStore.open(store_url, actor="test", clock=FakeClock())
    result.create_run("r1", make_plan([[["a"]], [["b", "c"]]]), RunInputs(inventory=("inv",)))
    result.set_stage_state("r1", "canary", StageState.RUNNING)
    result.record_intent("r1", "canary", 1, 1, ["a"])
    outcome = HostOutcome(
        host="a", status=HostStatus.PATCHED, versions_before={"p": "9.9-1"}, versions_after={"p": "10.0-1"}
    )
    result.record_outcomes("r1", "canary", 1, [outcome], evidence="events")
    result.set_stage_state("r1", "canary", StageState.COMPLETED)
    result.approve("r1", "wave-1", "alice")
    result.set_run_state("r1", RunState.HALTED, "operator")
    return result


def _broken(store: RunStore) -> AuditChainError:
    with pytest.raises(AuditChainError) as caught:
        store.verify_audit()
    return caught.value


def test_untouched_store_verifies(store: RunStore) -> None:
    """Normal use leaves every state row matching the record that wrote it."""
    assert store.verify_audit() == 7


def test_edited_attempt_outcome_is_named(store: RunStore) -> None:
    """An attempt whose recorded versions were rewritten no longer matches the outcome record."""
    [row] = store.attempts("r1")
    assert row.outcome is not None
    forged = row.outcome.model_copy(update={"versions_after": {"p": "9.9-9"}}).model_dump_json()
    with store.engine.begin() as conn:
        conn.execute(update(attempts).values(outcome_json=forged))
    error = _broken(store)
    assert str(error) == "attempt r1/canary/a#1 does not match audit record 4: it was changed after it was recorded"
    assert error.context == {"seq": 4, "record": "attempt r1/canary/a#1"}


def test_edited_run_state_is_named(store: RunStore) -> None:
    """A run moved back to running by hand no longer matches its last state record."""
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == "r1").values(state=RunState.RUNNING.value))
    assert str(_broken(store)) == "run r1 does not match audit record 7: it was changed after it was recorded"


def test_edited_stage_is_named(store: RunStore) -> None:
    """A stage whose state was changed by hand no longer matches the record that wrote it."""
    with store.engine.begin() as conn:
        conn.execute(update(stages).where(stages.c.name == "wave-1").values(state=StageState.COMPLETED.value))
    assert str(_broken(store)) == "stage r1/wave-1 does not match audit record 1: it was changed after it was recorded"


def test_deleted_approval_is_named(store: RunStore) -> None:
    """An approval removed from its table is missing from what its record vouched for."""
    with store.engine.begin() as conn:
        conn.execute(delete(approvals))
    assert str(_broken(store)) == "approval r1/wave-1 recorded by audit record 6 is missing: it was deleted"


def test_row_written_outside_patchorch_is_named(store: RunStore) -> None:
    """An approval inserted without an audit record is covered by none."""
    with store.engine.begin() as conn:
        conn.execute(insert(approvals).values(run_id="r1", stage="canary", approver="mallory", comment="", at="x"))
    error = _broken(store)
    assert str(error) == "approval r1/canary is covered by no audit record: it was written outside patchorch"


def test_deleting_the_last_record_and_rewriting_the_head_is_caught(store: RunStore) -> None:
    """Cutting the last record and moving the head back leaves the row it wrote unmatched."""
    with store.engine.begin() as conn:
        previous = conn.execute(select(audit.c.hash).where(audit.c.seq == 6)).scalar_one()
        conn.execute(delete(audit).where(audit.c.seq == 7))
        conn.execute(update(audit_head).values(seq=6, hash=previous))
    assert str(_broken(store)) == "run r1 does not match audit record 1: it was changed after it was recorded"


def test_first_break_is_named_when_several_rows_were_edited(store: RunStore) -> None:
    """With an edited stage (record 1) and an edited attempt (record 4), the stage is named."""
    with store.engine.begin() as conn:
        conn.execute(update(attempts).values(evidence="forged"))
        conn.execute(update(stages).where(stages.c.name == "wave-1").values(soak_until="2030-01-01T00:00:00+00:00"))
    assert _broken(store).context["record"] == "stage r1/wave-1"


def test_rows_of_an_upgraded_release_store_are_covered(tmp_path: Path) -> None:
    """Rows 0.1.0 wrote are vouched for by the upgrade record, so editing one afterwards is caught."""
    path = tmp_path / "patchorch.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(RELEASE_DUMP.read_text(encoding="utf-8"))
    store = RunStore.open(f"sqlite:///{path}", actor="test")
    with store.engine.begin() as conn:
        conn.execute(update(attempts).values(status=HostStatus.FAILED.value))
    assert (
        str(_broken(store))
        == "attempt r1/canary/a#1 does not match audit record 8: it was changed after it was recorded"
    )
