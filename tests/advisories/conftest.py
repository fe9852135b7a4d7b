"""Shared fixtures of the advisory tests: the fixture documents and a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchorch.store.advisories import AdvisoryStore
from patchorch.store.runs import create_store_engine

FIXTURES = Path(__file__).parent.parent / "fixtures" / "advisories"
CSAF = FIXTURES / "csaf-acme-mta.json"
KEV = FIXTURES / "kev-catalog.json"
OSV = FIXTURES / "osv-dsa-acme-mta.json"
OSV_WITHDRAWN = FIXTURES / "osv-withdrawn.json"


def fixture_json(path: Path) -> Any:
    """A fixture document as parsed JSON, for tests that change it."""
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def store(store_url: str) -> AdvisoryStore:
    """An AdvisoryStore on a fresh store, on SQLite and on PostgreSQL."""
    result = AdvisoryStore(create_store_engine(store_url))
    result.create_tables()
    return result
