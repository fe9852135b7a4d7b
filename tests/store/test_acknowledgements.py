"""Acknowledged failures are data on the attempt (who, when), covered by the audit chain, and carried over from the
audit notes older stores kept; reads take no write lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import update

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.run import RunInputs
from patchorch.errors import AuditChainError
from patchorch.store import migrations
from patchorch.store.runs import RunStore, attempts
from patchorch.store.schema import migrate
from patchorch.testing import FakeClock
from tests.plans import make_plan

MIGRATIONS = Path(migrations.__file__).parent


@pytest.fixture
def clock() -> FakeClock:
    """The store's clock, moved by the tests."""
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> RunStore:
    """A store with one run whose canary `a` failed, `b` was unreachable and `c` patched, on SQLite and PostgreSQL."""
    store = RunStore.open(store_url, actor="alice", clock=clock)
    store.create_run("r1", make_plan([[["a", "b", "c"]]]), RunInputs())
    store.record_intent("r1", "canary", 1, 1, ["a", "b", "c"])
    outcomes = [
        HostOutcome(host="a", status=HostStatus.FAILED),
        HostOutcome(host="b", status=HostStatus.UNREACHABLE),
        HostOutcome(host="c", status=HostStatus.PATCHED),
    ]
    store.record_outcomes("r1", "canary", 1, outcomes, evidence="events")
    return store


def _acknowledged(store: RunStore) -> dict[tuple[str, int], tuple[str | None, object]]:
    return {(a.host, a.attempt): (a.acknowledged_by, a.acknowledged_at) for a in store.attempts("r1")}


def test_acknowledging_marks_the_failed_attempts_with_who_and_when(store: RunStore, clock: FakeClock) -> None:
    """The latest failed or unreachable attempt of each named host records the acknowledging actor and time."""
    assert store.acknowledge_failures("r1", ["a", "b", "c"]) == ["a", "b"]
    assert _acknowledged(store) == {
        ("a", 1): ("alice", clock.now()),
        ("b", 1): ("alice", clock.now()),
        ("c", 1): (None, None),
    }
    assert store.audit_log("r1")[-1].data == {"hosts": ["a", "b"]}


def test_an_acknowledged_failure_is_not_acknowledged_again(store: RunStore) -> None:
    """A second acknowledgement of the same attempt changes nothing and writes no audit record."""
    store.acknowledge_failures("r1", ["a"])
    records = len(store.audit_log())
    assert store.acknowledge_failures("r1", ["a"]) == []
    assert len(store.audit_log()) == records


def test_a_retried_host_has_a_new_unacknowledged_attempt(store: RunStore) -> None:
    """Acknowledging marks the latest attempt only: a retry after it starts unacknowledged."""
    store.acknowledge_failures("r1", ["a"])
    store.record_intent("r1", "canary", 2, 2, ["a"])
    store.record_outcomes("r1", "canary", 2, [HostOutcome(host="a", status=HostStatus.FAILED)], evidence="events")
    assert _acknowledged(store)[("a", 2)] == (None, None)
    assert store.acknowledge_failures("r1", ["a"]) == ["a"]
    assert _acknowledged(store)[("a", 2)][0] == "alice"


def test_an_acknowledgement_edited_in_the_database_fails_audit_verify(store: RunStore) -> None:
    """Clearing an acknowledgement behind patchorch's back breaks the chain, naming the attempt."""
    store.acknowledge_failures("r1", ["a"])
    assert store.verify_audit() > 0
    with store.engine.begin() as connection:
        connection.execute(update(attempts).where(attempts.c.host == "a").values(acknowledged_by="mallory"))
    with pytest.raises(AuditChainError, match="attempt r1/canary/a#1"):
        store.verify_audit()


def test_acknowledgement_notes_of_a_store_at_0008_become_acknowledged_attempts(store: RunStore) -> None:
    """A store written at revision 0008 (acknowledgements as audit notes) upgrades to acknowledged attempts: the
    note's time and actor, only the hosts' failed attempts, and a chain that still verifies."""
    store.note("r1", "failures-acknowledged", {"hosts": ["a", "c"]})
    noted = store.audit_log("r1")[-1]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    migrate(store.engine)
    assert _acknowledged(store) == {
        ("a", 1): ("alice", noted.at),
        ("b", 1): (None, None),
        ("c", 1): (None, None),
    }
    assert store.verify_audit() == len(store.audit_log())
    assert store.audit_log()[-1].event == "store-upgraded"


def test_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """While another process holds SQLite's write lock, the store's reads still answer (from the last commit)."""
    path = tmp_path / "runs.db"
    store = RunStore.open(f"sqlite:///{path}", actor="alice", clock=FakeClock())
    store.create_run("r1", make_plan([[["a"]]]), RunInputs())
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE runs SET state_reason = 'uncommitted' WHERE id = 'r1'")
        assert store.run("r1").state_reason == ""
        assert [s.name for s in store.stages("r1")] == ["canary"]
        assert store.verify_audit() == len(store.audit_log())
    finally:
        writer.execute("ROLLBACK")
        writer.close()
