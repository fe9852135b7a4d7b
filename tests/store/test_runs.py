"""The run store: records, refusals and the hash-chained audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.errors import AuditChainError, RunStateError
from patchorch.store.runs import RunStore, audit
from patchorch.testing import FakeClock
from tests.plans import make_plan


@pytest.fixture
def store(store_url: str) -> RunStore:
    """A fresh store with a fake clock, on SQLite and on PostgreSQL."""
    return RunStore.open(store_url, actor="test", clock=FakeClock())


def _started(store: RunStore) -> str:
    store.create_run("r1", make_plan([[["a"]], [["b", "c"]]]), RunInputs(inventory=("inv",)))
    return "r1"


def test_created_run_keeps_its_plan_and_hash(store: RunStore) -> None:
    """A run's stored plan reads back identical, with the hash recorded at creation."""
    plan = make_plan([[["a"]], [["b", "c"]]])
    record = store.create_run("r1", plan, RunInputs())
    assert record.plan_hash == plan.content_hash
    assert store.plan("r1") == plan
    assert [s.state for s in store.stages("r1")] == [StageState.PENDING, StageState.PENDING]


def test_outcome_without_intent_is_refused(store: RunStore) -> None:
    """No outcome is recorded for a host that was never dispatched."""
    run_id = _started(store)
    with pytest.raises(RunStateError, match="no open dispatch of a"):
        store.record_outcomes(run_id, "canary", 1, [HostOutcome(host="a", status=HostStatus.PATCHED)], evidence="x")


def test_outcome_is_recorded_once(store: RunStore) -> None:
    """A second outcome for the same attempt of the same host is refused."""
    run_id = _started(store)
    store.record_intent(run_id, "canary", 1, 1, ["a"])
    outcome = HostOutcome(host="a", status=HostStatus.PATCHED, versions_before={"p": "1"}, versions_after={"p": "2"})
    store.record_outcomes(run_id, "canary", 1, [outcome], evidence="events")
    with pytest.raises(RunStateError):
        store.record_outcomes(run_id, "canary", 1, [outcome], evidence="events")
    [attempt] = store.attempts(run_id)
    assert attempt.status is HostStatus.PATCHED
    assert attempt.outcome is not None
    assert attempt.outcome.versions_after == {"p": "2"}


def test_second_approval_of_a_stage_is_refused(store: RunStore) -> None:
    """Approving the same stage twice is an error naming the first approver."""
    run_id = _started(store)
    store.approve(run_id, "wave-1", "alice")
    with pytest.raises(RunStateError, match="already approved by alice"):
        store.approve(run_id, "wave-1", "bob")


def test_audit_chain_verifies_after_normal_use(store: RunStore) -> None:
    """Every change appends one audit record and the chain verifies."""
    run_id = _started(store)
    store.set_run_state(run_id, RunState.HALTED, "budget")
    assert store.verify_audit() == 2
    assert [r.event for r in store.audit_log(run_id)] == ["run-created", "run-state"]


def test_audit_detects_an_edited_record(store: RunStore) -> None:
    """Changing the content of a record breaks its hash."""
    run_id = _started(store)
    store.set_run_state(run_id, RunState.HALTED, "budget")
    with store.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 1).values(actor="mallory"))
    with pytest.raises(AuditChainError, match="record 1 was altered"):
        store.verify_audit()


def test_audit_detects_a_deleted_record(store: RunStore) -> None:
    """Removing a record from the middle breaks the sequence."""
    run_id = _started(store)
    store.set_run_state(run_id, RunState.HALTED, "budget")
    store.set_run_state(run_id, RunState.RUNNING, "")
    with store.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq == 2))
    with pytest.raises(AuditChainError, match="record 2 is missing"):
        store.verify_audit()


def test_audit_detects_a_truncated_tail(store: RunStore) -> None:
    """Removing the newest record is caught by the head row."""
    run_id = _started(store)
    store.set_run_state(run_id, RunState.HALTED, "budget")
    with store.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq == 2))
    with pytest.raises(AuditChainError, match="records were removed"):
        store.verify_audit()


def test_sqlite_file_store_uses_wal_and_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file store runs in WAL mode with synchronous=FULL."""
    store = RunStore.open(f"sqlite:///{tmp_path / 'p.db'}", actor="t")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_run_recorded_with_inputs_this_version_does_not_know_still_reads(store: RunStore) -> None:
    """A run whose stored inputs carry a key from another patchorch version is still readable."""
    from patchorch.store.runs import runs

    run_id = _started(store)
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(inputs_json='{"inventory": ["inv"], "retries": 2}'))
    assert store.run(run_id).inputs.inventory == ("inv",)


def test_plan_stored_before_a_field_was_added_still_verifies_and_reads(store: RunStore) -> None:
    """A stored plan without a field added since keeps its recorded hash and reads with the field's default."""
    import json

    from patchorch.domain.plan import RolloutPlan
    from patchorch.store.runs import runs

    run_id = _started(store)
    body = json.loads(store.plan(run_id).canonical_json())
    del body["content_hash"], body["unreachable_retries"]
    older = json.dumps(body, sort_keys=True, separators=(",", ":"))
    digest = RolloutPlan.digest_of_json(older)
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(plan_json=older, plan_hash=digest))
    assert store.plan(run_id).unreachable_retries == 2


def test_tampered_stored_plan_is_refused(store: RunStore) -> None:
    """A stored plan edited after it was recorded no longer matches its hash."""
    from patchorch.errors import StoreError
    from patchorch.store.runs import runs

    run_id = _started(store)
    edited = store.plan(run_id).canonical_json().replace('"failure_budget":1', '"failure_budget":9')
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(plan_json=edited))
    with pytest.raises(StoreError, match="does not match its recorded hash"):
        store.plan(run_id)


def test_a_rollback_records_the_run_it_undoes_and_is_found_from_it(store: RunStore) -> None:
    """The link is a column of the rollback's row, in its audit record, and read back from the run undone."""
    _started(store)
    update = UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of="r1")
    store.create_run("r2", make_plan([[["a"]]]).model_copy(update={"update": update}), RunInputs())
    assert (store.run("r2").rollback_of, store.run("r1").rollback_of) == ("r1", None)
    assert (store.rollbacks_of("r1"), store.rollbacks_of("r2")) == (["r2"], [])
    assert store.audit_log("r2")[0].data["rollback_of"] == "r1"
    store.verify_audit()
