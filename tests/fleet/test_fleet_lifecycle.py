"""Creating, re-creating and destroying a fleet of its own, next to the session fleet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patchorch.testing.fleet import FLEET_LABEL, TestFleet, free_base_port
from patchorch.testing.fleet._podman import Podman

pytestmark = pytest.mark.fleet


def _ids(fleet_name: str) -> set[str]:
    return {c["Id"] for c in Podman().containers(FLEET_LABEL, fleet_name)}


def test_status_reports_every_host_ready(test_fleet: TestFleet) -> None:
    """status() sees each host running, answering SSH and healthy with an installed acme-mta version."""
    status = test_fleet.status()
    assert [h.name for h in status.hosts] == [h.name for h in test_fleet.hosts]
    assert status.ready, status
    assert all(h.version in {"1.0-1", "1.0-2"} for h in status.hosts)
    assert status.strays == ()


def test_create_twice_reuses_and_destroy_removes_only_its_own(test_fleet: TestFleet, tmp_path: Path) -> None:
    """A second create reuses the running containers; destroy leaves no container with the fleet's label."""
    session_ids = _ids(test_fleet.name)
    base_port = free_base_port(2, start=test_fleet.base_port + 50)
    fleet = TestFleet(f"pytest-{os.getpid()}-life", 2, base_port=base_port, state_dir=tmp_path)
    try:
        first = fleet.create()
        created = _ids(fleet.name)
        second = fleet.create()
        assert first.started == ("mx1", "imap1")
        assert (second.started, second.reused) == ((), ("imap1", "mx1"))
        assert _ids(fleet.name) == created
        assert second.image.imported is False
    finally:
        removed = fleet.destroy()
    assert sorted(removed) == [f"{fleet.name}-imap1", f"{fleet.name}-mx1"]
    assert _ids(fleet.name) == set()
    assert not fleet.state_dir.exists()
    assert _ids(test_fleet.name) == session_ids
