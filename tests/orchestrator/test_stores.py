"""StoreLocation: where a workspace's records live, and the one place the run, advisory and sync stores are opened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.domain.run import RunInputs
from patchorch.errors import ConfigError
from patchorch.orchestrator.stores import StoreLocation
from patchorch.orchestrator.workspace import Workspace
from tests.plans import make_plan

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_without_a_store_url_the_store_is_sqlite_in_the_state_directory(tmp_path: Path) -> None:
    """The URL is SQLite's file in the state directory, unless a store URL is given."""
    assert StoreLocation(tmp_path).url == f"sqlite:///{tmp_path / 'patchorch.db'}"
    assert StoreLocation(tmp_path, "postgresql+psycopg://u@db/p").url == "postgresql+psycopg://u@db/p"


def test_a_store_exists_only_once_opened_and_opening_makes_a_private_state_directory(tmp_path: Path) -> None:
    """A fresh state directory has no store to read (so completion creates none); opening one makes the directory,
    readable by its user alone, and the SQLite file."""
    location = StoreLocation(tmp_path / "state")
    assert not location.exists()
    assert not (tmp_path / "state").exists()
    location.runs(actor="pytest")
    assert location.exists()
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_a_store_url_always_counts_as_a_store_to_read(tmp_path: Path) -> None:
    """With a store URL there is no file to look for: the database answers (or fails) when opened."""
    assert StoreLocation(tmp_path / "absent", "postgresql+psycopg://u@db/p").exists()


def test_the_stores_of_one_location_share_one_database(tmp_path: Path) -> None:
    """Facts saved through the advisory store, a run through the run store and a sync through the sync store are
    all read back through new stores of the same location."""
    location = StoreLocation(tmp_path)
    debian = OsRelease(family="debian", version="12")
    location.advisories().save_facts("mx1", [PackageFact(name="acme-mta", version="1.0-1")], debian, NOW)
    location.runs(actor="pytest").create_run("r1", make_plan([[["mx1"]]]), RunInputs())
    sync_id = location.sync().start(NOW)
    assert location.advisories().facts("mx1") is not None
    assert [r.id for r in location.runs(actor="pytest").runs()] == ["r1"]
    assert [r.id for r in location.sync().runs()] == [sync_id]


def test_the_stores_of_one_location_connect_through_one_engine(tmp_path: Path, engines_opened: list[object]) -> None:
    """Opening the run, advisory and sync stores of one location, and reading each, opens one database engine."""
    location = StoreLocation(tmp_path)
    location.runs(actor="pytest").runs()
    location.advisories().list()
    location.sync().runs()
    assert len(engines_opened) == 1


def test_a_workspace_on_sqlite_in_memory_is_refused_before_its_state_directory_is_made(tmp_path: Path) -> None:
    """Workspace.open with an in-memory SQLite store URL raises ConfigError naming store_url and the URL, and makes no
    state directory."""
    with pytest.raises(ConfigError) as caught:
        Workspace.open(tmp_path / "state", store_url="sqlite:///:memory:")
    (problem,) = caught.value.problems
    assert (problem.field, problem.value) == ("store_url", "sqlite:///:memory:")
    assert not (tmp_path / "state").exists()
