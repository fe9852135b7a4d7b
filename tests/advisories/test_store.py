"""The advisory store on real SQLite: idempotent import, revisions superseding, package facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from patchorch.domain.advisory import Advisory, OsRelease, PackageFact
from patchorch.sources.advisories import load_document
from patchorch.store.advisories import AdvisoryStore, ImportStatus
from tests.advisories.conftest import CSAF

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _import(store: AdvisoryStore, advisory: Advisory, digest: str = "a" * 64) -> ImportStatus:
    (outcome,) = store.import_([advisory], document_hash=digest, document_path="x.json", imported_at=NOW)
    return outcome.status


def _csaf() -> Advisory:
    (advisory,) = load_document(CSAF).advisories
    return advisory


def test_same_advisory_twice_is_one(store: AdvisoryStore) -> None:
    """Importing the same revision again changes nothing."""
    advisory = _csaf()
    assert _import(store, advisory) is ImportStatus.ADDED
    assert _import(store, advisory) is ImportStatus.UNCHANGED
    assert [stored.advisory.id for stored in store.list()] == [advisory.id]


def test_newer_revision_supersedes(store: AdvisoryStore) -> None:
    """A higher revision replaces the stored one; an older one is ignored."""
    advisory = _csaf()
    newer = advisory.model_copy(update={"revision": "3", "revision_key": (3,), "cvss": 7.5})
    _import(store, advisory)
    assert _import(store, newer) is ImportStatus.UPDATED
    assert _import(store, advisory) is ImportStatus.OLDER
    stored = store.get(advisory.id)
    assert stored is not None
    assert stored.advisory.revision == "3"
    assert stored.advisory.cvss == 7.5


def test_same_revision_different_content_is_a_conflict(store: AdvisoryStore) -> None:
    """A different document claiming the stored revision is reported and not stored."""
    advisory = _csaf()
    _import(store, advisory)
    assert _import(store, advisory.model_copy(update={"cvss": 1.0})) is ImportStatus.CONFLICT
    stored = store.get(advisory.id)
    assert stored is not None
    assert stored.advisory.cvss == 9.8


def test_round_trip_keeps_the_advisory(store: AdvisoryStore) -> None:
    """What is stored reads back equal, with UTC timestamps."""
    advisory = _csaf()
    _import(store, advisory)
    stored = store.get(advisory.id)
    assert stored is not None
    assert stored.advisory == advisory
    assert stored.imported_at == NOW
    assert store.get("nope") is None


def test_facts_replace_and_read_back(store: AdvisoryStore) -> None:
    """save_facts replaces a host's packages; facts() returns them with the gathering time."""
    os = OsRelease(family="debian", version="12", manager="dpkg")
    store.save_facts("mx1", [PackageFact(name="a", version="1"), PackageFact(name="b", version="2")], os, NOW)
    later = NOW + timedelta(hours=1)
    store.save_facts("mx1", [PackageFact(name="acme-mta", version="1.0-1", source="acme-mta")], os, later)
    facts = store.facts("mx1")
    assert facts is not None
    packages, gathered_at = facts
    assert [(p.name, p.version, p.distro) for p in packages] == [("acme-mta", "1.0-1", "debian-12")]
    assert gathered_at == later
    assert store.facts("other") is None
