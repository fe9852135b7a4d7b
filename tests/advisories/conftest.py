"""Shared fixtures of the advisory tests: the fixture documents and a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from patchorch.store.advisories import AdvisoryStore

FIXTURES = Path(__file__).parent.parent / "fixtures" / "advisories"
CSAF = FIXTURES / "csaf-acme-mta.json"
KEV = FIXTURES / "kev-catalog.json"
OSV = FIXTURES / "osv-dsa-acme-mta.json"
OSV_WITHDRAWN = FIXTURES / "osv-withdrawn.json"


def fixture_json(path: Path) -> Any:
    """A fixture document as parsed JSON, for tests that change it."""
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def store(tmp_path: Path) -> AdvisoryStore:
    """An AdvisoryStore on a fresh SQLite file."""
    result = AdvisoryStore(create_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    result.create_tables()
    return result
