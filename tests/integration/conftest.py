"""Real rollouts on the session's test fleet: helpers to reset hosts, count real upgrades and watch a run's store."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from patchorch.domain.plan import PackageSpec, UpdateScope, UpdateSpec
from patchorch.testing.fleet import TestFleet
from tests.fleet_fixture import reset_hosts

ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))
OLD, NEW = "1.0-1", "1.0-2"
UPGRADE_LINE = f" upgrade acme-mta:all {OLD} {NEW}"


@dataclass(frozen=True)
class Fleet:
    """The session fleet, reset for one test, with the counts of real upgrades each host had before it."""

    fleet: TestFleet
    baseline: dict[str, int]

    @property
    def inventory(self) -> Path:
        """The fleet's inventory."""
        return self.fleet.inventory_path

    def upgrades(self, host: str) -> int:
        """How many times dpkg really upgraded acme-mta 1.0-1 -> 1.0-2 on `host` during this test."""
        return count_upgrades(self.fleet, host) - self.baseline[host]

    def version(self, host: str) -> str | None:
        """The acme-mta version the host's health service reports now."""
        answer = self.fleet.health(host)
        return None if answer is None else str(answer.body.get("version"))


def count_upgrades(fleet: TestFleet, host: str) -> int:
    """Lines in the host's dpkg log recording the acme-mta security upgrade."""
    log = fleet.exec(host, "cat", "/var/log/dpkg.log", check=False).stdout
    return sum(1 for line in log.splitlines() if line.endswith(UPGRADE_LINE) or UPGRADE_LINE + " " in line)


@pytest.fixture
def fresh(test_fleet: TestFleet) -> Fleet:
    """The session fleet with every fault cleared and acme-mta back at 1.0-1 on every host."""
    reset_hosts(test_fleet)
    names = [h.name for h in test_fleet.hosts]
    return Fleet(test_fleet, {host: count_upgrades(test_fleet, host) for host in names})


def policy_file(fleet: TestFleet, directory: Path, **changes: object) -> Path:
    """The fleet's policy with top-level keys replaced and `classes.<name>.<key>` changes applied."""
    data = yaml.safe_load(fleet.policy_path.read_text())
    for key, value in changes.items():
        if key.startswith("class_"):
            name, _, field = key[len("class_") :].partition("__")
            data["classes"][name][field] = value
        else:
            data[key] = value
    path = directory / "policy.yml"
    path.write_text(yaml.safe_dump(data))
    return path


class StoreWatch:
    """Reads a run's SQLite store from outside (read-only), as an operator's second shell would."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def audit(self) -> list[tuple[str, dict[str, object]]]:
        """(event, data) of every audit record so far."""
        if not self.database.exists():
            return []
        try:
            with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5) as conn:
                rows = conn.execute("SELECT event, data_json FROM audit ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is not there yet
        return [(event, json.loads(data)) for event, data in rows]

    def wait_for(self, condition: Callable[[list[tuple[str, dict[str, object]]]], bool], timeout: float) -> bool:
        """Poll the store until `condition(audit)` holds; False after `timeout` seconds of real time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.audit()):
                return True
            time.sleep(0.05)  # polling a real process's writes, bounded by the deadline
        return False


def dispatched(stage: str, *, after: int = 0) -> Callable[[list[tuple[str, dict[str, object]]]], bool]:
    """True once more than `after` dispatches of `stage` are recorded."""

    def condition(audit: list[tuple[str, dict[str, object]]]) -> bool:
        return sum(1 for event, data in audit if event == "dispatch" and data.get("stage") == stage) > after

    return condition


def outcomes_of(stage: str) -> Callable[[list[tuple[str, dict[str, object]]]], bool]:
    """True once outcomes of `stage` are recorded."""

    def condition(audit: list[tuple[str, dict[str, object]]]) -> bool:
        return any(event == "outcomes" and data.get("stage") == stage for event, data in audit)

    return condition


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A state directory of the test's own."""
    path = tmp_path / "state"
    path.mkdir()
    return path
