"""`AdvisorySync` against a real HTTPS server on 127.0.0.1: verification, incremental fetching, failures kept apart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pysequoia

from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.orchestrator.advisory_sync import AdvisorySync, SyncReport
from patchorch.sources.feeds import CsafSource, HttpFetcher, KevSource, OsvSource, SourceSpec
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.sync import SyncStore
from patchorch.testing import FakeClock
from tests.advisories.sync.provider import (
    FIXTURES,
    AdvisoryServer,
    CsafProvider,
    TestCA,
    csaf_document,
    encoded,
    osv_record,
    publish_osv,
)

Stores = tuple[AdvisoryStore, SyncStore]


def sync(sources: Sequence[SourceSpec], stores: Stores, ca: TestCA, sleeps: list[float] | None = None) -> SyncReport:
    """One sync of `sources` trusting the test CA; back-off waits are recorded in `sleeps`, never slept."""
    advisories, state = stores
    waits = sleeps if sleeps is not None else []
    return AdvisorySync(
        advisories=advisories,
        state=state,
        fetcher_for=lambda spec: HttpFetcher(ca_file=ca.ca_file, sleep=waits.append, timeout=10),
        clock=FakeClock(),
    ).run(sources)


def csaf_source(provider: CsafProvider, **extra: object) -> CsafSource:
    """The patchorch.yml entry for a test provider."""
    return CsafSource.model_validate({"type": "csaf", "name": provider.prefix, "url": provider.metadata_url, **extra})


def stored_ids(stores: Stores) -> set[str]:
    """IDs of the advisories in the store."""
    return {stored.advisory.id for stored in stores[0].list()}


def test_verified_documents_are_imported_and_tampered_or_badly_signed_ones_are_not(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """A good document is imported; a hash mismatch and a signature by a foreign key are reported and not stored."""
    provider = CsafProvider(server)
    provider.publish("good.json", encoded(csaf_document("WID-SEC-W-2026-0001")), "2026-11-20T10:00:00Z")
    provider.publish(
        "tampered.json", encoded(csaf_document("WID-SEC-W-2026-0002")), "2026-11-20T11:00:00Z", digest="ab" * 64
    )
    provider.publish(
        "forged.json",
        encoded(csaf_document("WID-SEC-W-2026-0003")),
        "2026-11-20T12:00:00Z",
        signer=pysequoia.Tsk.generate("Mallory <m@example.test>"),
    )
    report = sync([csaf_source(provider)], stores, test_ca)
    (summary,) = report.sources
    assert stored_ids(stores) == {"WID-SEC-W-2026-0001"}
    assert (summary.status, summary.added, summary.downloaded) == ("partial", 1, 3)
    reasons = {failure.url.rsplit("/", 1)[-1]: failure.reason for failure in summary.failures}
    assert set(reasons) == {"tampered.json", "forged.json"}
    assert "sha512 mismatch" in reasons["tampered.json"]
    assert "OpenPGP signature does not verify" in reasons["forged.json"]
    assert report.status == "partial"


def test_second_sync_downloads_only_the_changed_document(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """After a document changes, the next sync fetches it (and its hash and signature) and no other document."""
    provider = CsafProvider(server)
    first = provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0010")), "2026-11-20T10:00:00Z")
    second = provider.publish("b.json", encoded(csaf_document("WID-SEC-W-2026-0011")), "2026-11-20T10:00:00Z")
    sync([csaf_source(provider)], stores, test_ca)
    server.clear_log()
    provider.publish("b.json", encoded(csaf_document("WID-SEC-W-2026-0011", version=2)), "2026-11-21T10:00:00Z")
    report = sync([csaf_source(provider)], stores, test_ca)
    (summary,) = report.sources
    assert (summary.downloaded, summary.unchanged, summary.updated) == (1, 1, 1)
    assert server.requested(second) == server.requested(second + ".sha512") == server.requested(second + ".asc") == 1
    assert server.requested(first) == server.requested(first + ".sha512") == server.requested(first + ".asc") == 0
    assert stores[0].get("WID-SEC-W-2026-0011").advisory.revision == "2"  # type: ignore[union-attr]


def test_unchanged_listing_is_answered_304_and_nothing_is_downloaded(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """A sync with nothing new sends the listing's ETag, gets 304 and fetches no document."""
    provider = CsafProvider(server)
    document = provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0020")), "2026-11-20T10:00:00Z")
    sync([csaf_source(provider)], stores, test_ca)
    server.clear_log()
    report = sync([csaf_source(provider)], stores, test_ca)
    assert server.requested(provider.directory + "changes.csv", status=304) == 1
    assert server.requested(document) == 0
    assert report.sources[0].status == "ok"


def test_a_failed_document_is_fetched_again_once_it_is_fixed(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """The listing of a failed document is not remembered, so the next sync retries the document; the good one stays."""
    provider = CsafProvider(server)
    good = provider.publish("good.json", encoded(csaf_document("WID-SEC-W-2026-0030")), "2026-11-20T10:00:00Z")
    body = encoded(csaf_document("WID-SEC-W-2026-0031"))
    provider.publish("late.json", body, "2026-11-20T10:00:00Z", digest="00" * 64)
    assert sync([csaf_source(provider)], stores, test_ca).status == "partial"
    provider.publish("late.json", body, "2026-11-20T10:00:00Z")  # the provider fixes its hash file
    server.clear_log()
    report = sync([csaf_source(provider)], stores, test_ca)
    assert report.status == "ok"
    assert stored_ids(stores) == {"WID-SEC-W-2026-0030", "WID-SEC-W-2026-0031"}
    assert server.requested(good) == 0


def test_one_failing_source_does_not_stop_the_others(server: AdvisoryServer, stores: Stores, test_ca: TestCA) -> None:
    """A provider answering 500 is retried with exponential back-off and reported failed; the KEV catalogue syncs."""
    provider = CsafProvider(server)
    server.failing.add(provider.metadata_path)
    server.files["/kev.json"] = (FIXTURES / "kev-catalog.json").read_bytes()
    sleeps: list[float] = []
    report = sync([csaf_source(provider), KevSource(type="kev", url=server.url("/kev.json"))], stores, test_ca, sleeps)
    csaf, kev = report.sources
    assert csaf.status == "failed"
    assert "HTTP 500" in (csaf.error or "")
    assert "after 4 attempts" in (csaf.error or "")
    assert server.requested(provider.metadata_path) == 4
    assert sleeps == [2.0, 4.0, 8.0]
    assert (kev.status, kev.added) == ("ok", 2)
    assert report.status == "partial"


def test_kev_catalogue_is_fetched_conditionally(server: AdvisoryServer, stores: Stores, test_ca: TestCA) -> None:
    """The second KEV sync sends the ETag and imports nothing on 304."""
    server.files["/kev.json"] = (FIXTURES / "kev-catalog.json").read_bytes()
    source = KevSource(type="kev", url=server.url("/kev.json"))
    sync([source], stores, test_ca)
    report = sync([source], stores, test_ca)
    assert server.requested("/kev.json", status=304) == 1
    assert (report.sources[0].downloaded, report.sources[0].unchanged) == (0, 1)


def test_kev_without_etag_is_fetched_with_if_modified_since(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """A server that sends only Last-Modified gets it back as If-Modified-Since and answers 304."""
    server.etags = False
    server.files["/kev.json"] = (FIXTURES / "kev-catalog.json").read_bytes()
    source = KevSource(type="kev", url=server.url("/kev.json"))
    sync([source], stores, test_ca)
    report = sync([source], stores, test_ca)
    (second,) = [r for r in server.log if r.status == 304]
    assert (second.if_modified_since, second.if_none_match) == ("Sat, 01 Nov 2026 10:00:00 GMT", None)
    assert report.sources[0].unchanged == 1


def test_osv_first_sync_reads_the_archive_then_only_changed_records(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """The first OSV sync reads all.zip; the next fetches only the record whose modified time changed."""
    records = {
        "DSA-6001-1": ("2026-11-21T10:15:00Z", osv_record("DSA-6001-1", "2026-11-21T10:15:00Z")),
        "DSA-6002-1": ("2026-11-21T11:00:00Z", osv_record("DSA-6002-1", "2026-11-21T11:00:00Z")),
    }
    publish_osv(server, "Debian", records)
    source = OsvSource(type="osv", url=server.url("/osv"), ecosystems=("Debian",))
    first = sync([source], stores, test_ca)
    assert (first.sources[0].added, server.requested("/osv/Debian/all.zip")) == (2, 1)
    assert stored_ids(stores) == {"DSA-6001-1", "DSA-6002-1"}
    records["DSA-6002-1"] = ("2026-11-23T08:00:00Z", osv_record("DSA-6002-1", "2026-11-23T08:00:00Z", "1.0-3"))
    publish_osv(server, "Debian", records)
    server.clear_log()
    second = sync([source], stores, test_ca)
    assert (second.sources[0].updated, second.sources[0].unchanged) == (1, 1)
    assert server.requested("/osv/Debian/DSA-6002-1.json") == 1
    assert server.requested("/osv/Debian/DSA-6001-1.json") == server.requested("/osv/Debian/all.zip") == 0


def test_rolie_feed_documents_are_verified_and_imported(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """A provider distributing through a ROLIE feed: documents come with the hash and signature links it gives."""
    provider = CsafProvider(server, "rolie", rolie=True)
    provider.publish("r.json", encoded(csaf_document("WID-SEC-W-2026-0040")), "2026-11-20T10:00:00Z")
    provider.publish(
        "bad.json", encoded(csaf_document("WID-SEC-W-2026-0041")), "2026-11-20T10:00:00Z", digest="1" * 128
    )
    report = sync([csaf_source(provider)], stores, test_ca)
    assert stored_ids(stores) == {"WID-SEC-W-2026-0040"}
    assert [f.url.rsplit("/", 1)[-1] for f in report.sources[0].failures] == ["bad.json"]


def test_aggregator_lists_providers_whose_documents_are_synced(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """An aggregator.json source syncs each listed provider with that provider's own keys."""
    one, two = CsafProvider(server, "one"), CsafProvider(server, "two")
    one.publish("x.json", encoded(csaf_document("WID-SEC-W-2026-0050")), "2026-11-20T10:00:00Z")
    two.publish("y.json", encoded(csaf_document("WID-SEC-W-2026-0051")), "2026-11-20T10:00:00Z")
    server.files["/aggregator.json"] = encoded(
        {
            "aggregator": {"category": "lister", "name": "test aggregator", "namespace": "https://example.org"},
            "aggregator_version": "2.0",
            "canonical_url": server.url("/aggregator.json"),
            "csaf_providers": [
                {"metadata": {"url": p.metadata_url, "role": "csaf_trusted_provider"}} for p in (one, two)
            ],
            "last_updated": "2026-11-22T10:00:00.000Z",
        }
    )
    source = CsafSource(type="csaf", name="agg", url=server.url("/aggregator.json"))
    report = sync([source], stores, test_ca)
    assert report.status == "ok"
    assert stored_ids(stores) == {"WID-SEC-W-2026-0050", "WID-SEC-W-2026-0051"}


def test_pinned_fingerprint_refuses_the_providers_own_key(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """With `fingerprints:` pinned to another key, the provider's key is not trusted and nothing is imported."""
    provider = CsafProvider(server)
    provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0060")), "2026-11-20T10:00:00Z")
    report = sync([csaf_source(provider, fingerprints=["ab" * 20])], stores, test_ca)
    assert report.sources[0].status == "failed"
    assert "no trusted OpenPGP key" in (report.sources[0].error or "")
    assert stored_ids(stores) == set()


def test_untrusted_tls_certificate_fails_the_source(server: AdvisoryServer, stores: Stores) -> None:
    """Without the test CA the server's certificate is not trusted: the source fails, nothing is imported."""
    provider = CsafProvider(server)
    provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0070")), "2026-11-20T10:00:00Z")
    advisories, state = stores
    report = AdvisorySync(
        advisories=advisories,
        state=state,
        fetcher_for=lambda spec: HttpFetcher(sleep=lambda _s: None, attempts=1, timeout=10),
        clock=FakeClock(),
    ).run([csaf_source(provider)])
    assert report.status == "failed"
    assert "certificate" in (report.sources[0].error or "").lower()
    assert server.requested(provider.metadata_path) == 0


def test_sha256_file_is_used_when_there_is_no_sha512(server: AdvisoryServer, stores: Stores, test_ca: TestCA) -> None:
    """A document published with only a .sha256 file verifies against it (after the .sha512 404)."""
    provider = CsafProvider(server)
    path = provider.publish(
        "a.json", encoded(csaf_document("WID-SEC-W-2026-0080")), "2026-11-20T10:00:00Z", algorithm="sha256"
    )
    assert sync([csaf_source(provider)], stores, test_ca).status == "ok"
    assert (server.requested(path + ".sha512", status=404), server.requested(path + ".sha256", status=200)) == (1, 1)
    assert stored_ids(stores) == {"WID-SEC-W-2026-0080"}


def test_unsigned_document_is_refused(server: AdvisoryServer, stores: Stores, test_ca: TestCA) -> None:
    """A document without a .asc signature is not imported, and the failure names the missing signature."""
    provider = CsafProvider(server)
    provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0081")), "2026-11-20T10:00:00Z", signed=False)
    report = sync([csaf_source(provider)], stores, test_ca)
    assert [failure.reason.rsplit(": ", 1)[-1] for failure in report.sources[0].failures] == ["HTTP 404"]
    assert report.sources[0].failures[0].reason.startswith(server.url(provider.directory + "2026/a.json.asc"))
    assert stored_ids(stores) == set()


def test_redirect_to_plain_http_is_refused(server: AdvisoryServer, stores: Stores, test_ca: TestCA) -> None:
    """A listing that redirects to http:// is not followed into unverified data: the source fails."""
    server.redirects["/kev.json"] = "http://127.0.0.1:9/kev.json"
    report = sync([KevSource(type="kev", url=server.url("/kev.json"))], stores, test_ca)
    assert report.status == "failed"
    assert "redirected to http://127.0.0.1:9/kev.json, which is not https://" in (report.sources[0].error or "")


def test_osv_fleet_ecosystems_come_from_the_stored_facts(
    server: AdvisoryServer, stores: Stores, test_ca: TestCA
) -> None:
    """`ecosystems: fleet` syncs the ecosystems of the distributions the package facts report, and no other."""
    stores[0].save_facts(
        "mx1",
        [PackageFact(name="acme-mta", version="1.0-1", source="acme-mta")],
        OsRelease(family="debian", version="12", manager="dpkg"),
        datetime(2026, 11, 20, tzinfo=UTC),
    )
    record = ("2026-11-21T10:15:00Z", osv_record("DSA-6001-1", "2026-11-21T10:15:00Z"))
    publish_osv(server, "Debian", {"DSA-6001-1": record})
    publish_osv(server, "Ubuntu", {"USN-1-1": record})
    report = sync([OsvSource(type="osv", url=server.url("/osv"))], stores, test_ca)
    assert report.sources[0].added == 1
    assert server.requested("/osv/Debian/modified_id.csv") == 1
    assert server.requested("/osv/Ubuntu/modified_id.csv") == 0
