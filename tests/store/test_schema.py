"""The store's schema: Alembic migrations match the models, stores of 0.1.0 upgrade, concurrent opens are safe, and
store URLs that cannot work are refused as bad input."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.domain.outcomes import HostStatus
from patchorch.domain.run import RunState
from patchorch.errors import ConfigError, StoreError
from patchorch.store import migrations
from patchorch.store import sync as _sync  # noqa: F401  # side effect: its tables join `metadata`
from patchorch.store.advisories import AdvisoryStore  # its tables join `metadata` too
from patchorch.store.runs import RunStore, create_store_engine, store_meta
from patchorch.store.schema import head_revision, metadata, migrate

RELEASE_DUMP = Path(__file__).parent.parent / "fixtures" / "store" / "release-0.1.0.sql"
MIGRATIONS = Path(migrations.__file__).parent


def test_migrated_store_matches_the_models(store_url: str) -> None:
    """Upgrading an empty database to the newest revision gives exactly the tables and columns the code declares."""
    engine = create_store_engine(store_url)
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert diff == [], diff
    assert revision == head_revision()


def test_store_written_by_release_0_1_0_is_upgraded_with_its_records(tmp_path: Path) -> None:
    """A store 0.1.0 wrote (no Alembic) is stamped, upgraded, and still reads and verifies."""
    path = tmp_path / "patchorch.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(RELEASE_DUMP.read_text(encoding="utf-8"))
    store = RunStore.open(f"sqlite:///{path}", actor="test")
    assert store.run("r1").state is RunState.HALTED
    assert [a.status for a in store.attempts("r1")] == [HostStatus.PATCHED]
    assert [a.approver for a in store.approvals("r1")] == ["bob"]
    assert store.verify_audit() == 8
    assert store.audit_log()[-1].event == "store-upgraded"
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert "advisories" in set(inspect(connection).get_table_names())


def test_store_at_0005_keeps_its_facts_and_records_os_cpes_after_upgrade(store_url: str) -> None:
    """Facts stored at revision 0005 read back after the upgrade with no OS CPE; facts saved then keep theirs."""
    engine = create_store_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    gathered = datetime(2026, 12, 1, 8, 0)  # naive UTC, as the store writes it
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            text(
                "INSERT INTO fact_hosts (host, os_family, os_version, os_release, manager, package_count, "
                "gathered_at, saved_at) VALUES ('mx1', 'debian', '12', '12.8', 'dpkg', 1, :at, :at)"
            ),
            {"at": gathered},
        )
        connection.execute(
            text("INSERT INTO fact_packages (host, name, version) VALUES ('mx1', 'postfix', '3.7.11-0+deb12u1')")
        )
    migrate(engine)
    store = AdvisoryStore(engine)
    ((old, at),) = store.all_facts(["mx1"]).values()
    assert [(p.name, p.distro, p.os_cpe) for p in old] == [("postfix", "debian-12", None)]
    assert at == gathered.replace(tzinfo=UTC)
    rocky = OsRelease(
        family="Rocky", version="9", release="9.4", cpe="cpe:/o:rocky:rocky:9::baseos", cpe_source="os-release"
    )
    store.save_facts("db1", [PackageFact(name="kernel", version="5.14.0-427.el9")], rocky, at)
    ((new, _),) = store.all_facts(["db1"]).values()
    assert [(p.os_cpe, p.rebuild_of) for p in new] == [("cpe:/o:rocky:rocky:9::baseos", "rhel-9")]


def test_store_of_a_newer_patchorch_is_refused(store_url: str) -> None:
    """A store at a revision this patchorch does not know is not touched: opening it is a StoreError."""
    RunStore.open(store_url, actor="test")
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="written by a newer patchorch"):
        RunStore.open(store_url, actor="test")


def _open_at_the_barrier(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait(timeout=60)
    RunStore.open(url, actor="racer")


def test_processes_opening_an_empty_store_at_once_all_succeed(store_url: str) -> None:
    """Four processes released together on an empty database all open it; the schema is created once."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_at_the_barrier, args=(store_url, barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert connection.execute(select(func.count()).select_from(store_meta)).scalar() == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("garbage://x", "garbage://x names no database patchorch knows (garbage)"),
        ("not a url", "'not a url' is not a database URL"),
        (
            "postgresql+pg8000://u:secret@localhost/db",
            "postgresql+pg8000://u:***@localhost/db needs the driver pg8000, which is not installed: install it, "
            "or use postgresql://USER@HOST/DB with patchorch[postgres] installed (psycopg 3)",
        ),
        ("sqlite:////nonexistent/dir/p.db", "cannot create /nonexistent/dir/p.db: the directory /nonexistent/dir does"),
        ("sqlite:////etc/passwd", "/etc/passwd is not an SQLite database"),
        ("sqlite:////etc", "/etc is a directory, not an SQLite file"),
        ("sqlite://", "sqlite:// is an in-memory SQLite database: nothing recorded in it would outlast the process"),
        ("sqlite:///:memory:", "sqlite:///:memory: is an in-memory SQLite database"),
        ("sqlite:///file::memory:?uri=true", "sqlite:///file::memory:?uri=true is an in-memory SQLite database"),
        ("sqlite:///file:s?mode=memory&uri=true", "sqlite:///file:s?mode=memory&uri=true is an in-memory SQLite"),
    ],
)
def test_unusable_store_url_is_bad_input(url: str, says: str) -> None:
    """A store URL that cannot work is a ConfigError saying what is wrong (no password shown), before any write."""
    with pytest.raises(ConfigError) as caught:
        create_store_engine(url)
    assert str(caught.value).startswith(f"store_url: {says}")
    assert "secret" not in str(caught.value)


def test_unreachable_postgresql_store_is_bad_input_with_the_password_masked(unreachable_postgres_url: str) -> None:
    """A PostgreSQL store nothing answers for is a ConfigError naming the URL without its password and the reason."""
    with pytest.raises(ConfigError) as caught:
        create_store_engine(unreachable_postgres_url)
    masked = unreachable_postgres_url.replace("s3cret-pw", "***")
    (problem,) = caught.value.problems
    assert problem.field == "store_url"
    assert problem.value == masked
    assert str(caught.value).startswith(f"store_url: cannot reach the store at {masked}: Connection refused; check ")
    assert "s3cret-pw" not in str(caught.value)
