"""`advisories sync`: pull advisories from the configured sources, verify them, import them, remember what was seen.

For each source in turn: a CSAF provider's (or every provider of an aggregator's) metadata, keys and listings; the
CISA KEV catalogue; the OSV exports of the fleet's distributions. Only what changed since the last sync is downloaded:
listings go out with If-None-Match / If-Modified-Since, and a document is fetched only when its listing's timestamp
differs from the one recorded when it was last imported. Each CSAF document must match its `.sha512` (or `.sha256`)
file and carry a valid OpenPGP signature by one of the provider's keys before it is parsed.

Failures are data: a document that fails is listed in its source's summary and nothing is recorded for it (nor for its
listing's validators), so the next sync tries again; a source that fails entirely does not stop the others; every
document already imported stays imported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from patchorch.clock import Clock
from patchorch.domain.advisory import AdvisorySource
from patchorch.errors import AdvisoryError, SourceError, StoreError
from patchorch.sources.advisories import LoadedDocument, parse_document
from patchorch.sources.feeds import (
    CsafSource,
    Fetched,
    KevSource,
    KeyRing,
    NotModified,
    OsvSource,
    SourceSpec,
    Validators,
)
from patchorch.sources.feeds.csaf_provider import (
    DocumentRef,
    aggregator_metadata,
    changes_csv,
    is_aggregator,
    provider_metadata,
    rolie_feed,
    verify_hash,
)
from patchorch.sources.feeds.osv_export import ecosystem_url, fleet_ecosystems, modified_ids, zip_records
from patchorch.store.advisories import AdvisoryStore, ImportOutcome
from patchorch.store.sync import ResourceState, SyncStore

# An OSV ecosystem's all.zip is read once, on the first sync of the ecosystem.
MAX_ARCHIVE_BYTES = 2 * 1024 * 1024 * 1024


class Fetcher(Protocol):
    """What sync needs from HTTP (`patchorch.sources.feeds.HttpFetcher` is the real one)."""

    def get(self, url: str, *, validators: Validators | None = None, max_bytes: int = ...) -> Fetched | NotModified:
        """The resource, or NOT_MODIFIED when the validators still match; SourceError when it cannot be had."""
        ...

    def close(self) -> None:
        """Release connections; called once the source is done."""
        ...


class SyncObserver:
    """Receives sync progress; override what you need (the CLI's progress bar is one)."""

    def source_started(self, source: str) -> None:
        """A source begins."""

    def documents_listed(self, source: str, count: int) -> None:
        """`count` more documents of the source will be downloaded."""

    def document_done(self, source: str, url: str, ok: bool) -> None:
        """One document was imported (ok) or failed."""

    def source_finished(self, summary: SourceSummary) -> None:
        """A source is done; its summary."""


class DocumentFailure(BaseModel):
    """A document (or listing, key, provider) that could not be synced, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    reason: str


class SourceSummary(BaseModel):
    """What syncing one source did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: str
    status: Literal["ok", "partial", "failed"]
    downloaded: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    failures: tuple[DocumentFailure, ...] = ()
    error: str | None = None
    note: str | None = None


class SyncReport(BaseModel):
    """One sync: its id in the store, when it ran and each source's summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sync_id: int
    started_at: datetime
    finished_at: datetime
    sources: tuple[SourceSummary, ...]

    @property
    def status(self) -> Literal["ok", "partial", "failed"]:
        """ok when every source synced whole; failed when every source failed; partial otherwise."""
        if all(source.status == "ok" for source in self.sources):
            return "ok"
        if all(source.status == "failed" for source in self.sources):
            return "failed"
        return "partial"


@dataclass
class _Progress:
    """The counters of one source while it syncs."""

    spec: SourceSpec
    known: dict[str, ResourceState]
    downloaded: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    failures: list[DocumentFailure] = field(default_factory=list)
    note: str | None = None

    def summary(self, error: str | None = None) -> SourceSummary:
        if error is not None:
            status: Literal["ok", "partial", "failed"] = "failed"
        else:
            status = "partial" if self.failures else "ok"
        return SourceSummary(
            name=self.spec.name,
            type=self.spec.type,
            status=status,
            downloaded=self.downloaded,
            unchanged=self.unchanged,
            added=self.added,
            updated=self.updated,
            failures=tuple(self.failures),
            error=error,
            note=self.note,
        )


class AdvisorySync:
    """One sync over the configured sources, writing through the advisory store and the sync state."""

    def __init__(
        self,
        *,
        advisories: AdvisoryStore,
        state: SyncStore,
        fetcher_for: Callable[[SourceSpec], Fetcher],
        clock: Clock,
        observer: SyncObserver | None = None,
    ) -> None:
        self._advisories = advisories
        self._state = state
        self._fetcher_for = fetcher_for
        self._clock = clock
        self._observer = observer or SyncObserver()
        self._sync_id = 0

    def run(self, sources: Sequence[SourceSpec]) -> SyncReport:
        """Sync every source; a source's failure is in its summary, never an exception (store errors excepted)."""
        started = self._clock.now()
        self._sync_id = self._state.start(started)
        try:
            summaries = [self._source(spec) for spec in sources]
        except StoreError as exc:
            # Mark the sync failed if the store still takes writes; the error goes to the caller either way.
            with suppress(StoreError):
                self._state.finish(self._sync_id, self._clock.now(), "failed", {"error": str(exc)})
            raise
        finished = self._clock.now()
        report = SyncReport(sync_id=self._sync_id, started_at=started, finished_at=finished, sources=tuple(summaries))
        self._state.finish(
            self._sync_id, finished, report.status, {"sources": [s.model_dump(mode="json") for s in summaries]}
        )
        return report

    def _source(self, spec: SourceSpec) -> SourceSummary:
        self._observer.source_started(spec.name)
        progress = _Progress(spec=spec, known=self._state.resources(spec.name))
        fetcher = self._fetcher_for(spec)
        try:
            if isinstance(spec, CsafSource):
                self._csaf(spec, fetcher, progress)
            elif isinstance(spec, KevSource):
                self._kev(spec, fetcher, progress)
            else:
                self._osv(spec, fetcher, progress)
            summary = progress.summary()
        except (SourceError, OSError) as exc:
            summary = progress.summary(error=_reason(exc))
        finally:
            fetcher.close()
        self._observer.source_finished(summary)
        return summary

    # --- shared steps -------------------------------------------------------------------------------------------

    def _import(self, progress: _Progress, loaded: LoadedDocument, url: str, stamp: str | None, **state: Any) -> None:
        """Store a verified document's advisories, then record the document as synced."""
        outcomes: tuple[ImportOutcome, ...] = self._advisories.import_(
            loaded.advisories, document_hash=loaded.sha256, document_path=url, imported_at=self._clock.now()
        )
        self._state.record_document(
            progress.spec.name,
            url,
            ResourceState(stamp=stamp, sha256=loaded.sha256, **state),
            outcomes,
            sync_id=self._sync_id,
            now=self._clock.now(),
        )
        progress.added += sum(1 for o in outcomes if o.status == "added")
        progress.updated += sum(1 for o in outcomes if o.status == "updated")

    def _record_listing(self, progress: _Progress, url: str, fetched: Fetched, *, complete: bool) -> None:
        """Keep a listing's validators only when everything it named was synced; otherwise re-read it next time."""
        if complete:
            state = ResourceState(etag=fetched.validators.etag, last_modified=fetched.validators.last_modified)
            self._state.record_resource(progress.spec.name, url, state, sync_id=self._sync_id, now=self._clock.now())
        elif url in progress.known:
            self._state.forget_resource(progress.spec.name, url)

    @staticmethod
    def _validators(progress: _Progress, url: str) -> Validators | None:
        known = progress.known.get(url)
        if known is None or not (known.etag or known.last_modified):
            return None
        return Validators(etag=known.etag, last_modified=known.last_modified)

    def _fail(self, progress: _Progress, url: str, exc: BaseException) -> None:
        progress.failures.append(DocumentFailure(url=url, reason=_reason(exc)))
        self._observer.document_done(progress.spec.name, url, ok=False)

    # --- CSAF ---------------------------------------------------------------------------------------------------

    def _csaf(self, spec: CsafSource, fetcher: Fetcher, progress: _Progress) -> None:
        metadata = _body(fetcher.get(spec.url), spec.url)
        if not is_aggregator(metadata, spec.url):
            self._provider(spec, fetcher, progress, spec.url, metadata)
            return
        providers = aggregator_metadata(metadata, spec.url)
        if not providers:
            progress.note = "the aggregator lists no providers"
        for url in providers:
            try:
                self._provider(spec, fetcher, progress, url, _body(fetcher.get(url), url))
            except SourceError as exc:
                progress.failures.append(DocumentFailure(url=url, reason=_reason(exc)))

    def _keyring(self, spec: CsafSource, fetcher: Fetcher, url: str, metadata: Any) -> KeyRing:
        keyring = KeyRing()
        if spec.keys:
            for path in spec.keys:
                keyring.add(Path(path).read_bytes(), str(path))
        else:
            for key in metadata.public_openpgp_keys:
                keyring.add(_body(fetcher.get(key.url), key.url), key.url, fingerprint=key.fingerprint)
        if spec.fingerprints:
            keyring = keyring.only(spec.fingerprints)
        if not len(keyring):
            raise SourceError(f"{url}: no trusted OpenPGP key (pin one with `keys:` or `fingerprints:`)", url=url)
        return keyring

    def _provider(self, spec: CsafSource, fetcher: Fetcher, progress: _Progress, url: str, body: bytes) -> None:
        metadata = provider_metadata(body, url)
        keyring = self._keyring(spec, fetcher, url, metadata)
        listings: list[tuple[str, Callable[[bytes], tuple[DocumentRef, ...]]]] = []
        for distribution in metadata.distributions:
            if distribution.directory_url:
                directory = distribution.directory_url.rstrip("/") + "/"
                listings.append((directory + "changes.csv", partial(changes_csv, directory_url=directory)))
            for feed in distribution.rolie.feeds if distribution.rolie else ():
                listings.append((feed.url, partial(rolie_feed, feed_url=feed.url)))
        if not listings:
            progress.note = f"{url} names no distribution (directory_url or ROLIE feed)"
        for listing, parse in listings:
            try:
                self._listing(fetcher, progress, keyring, listing, parse)
            except SourceError as exc:
                progress.failures.append(DocumentFailure(url=listing, reason=_reason(exc)))

    def _listing(
        self,
        fetcher: Fetcher,
        progress: _Progress,
        keyring: KeyRing,
        url: str,
        parse: Callable[[bytes], tuple[DocumentRef, ...]],
    ) -> None:
        fetched = fetcher.get(url, validators=self._validators(progress, url))
        if isinstance(fetched, NotModified):
            return
        refs = parse(fetched.body)
        todo = [ref for ref in refs if (known := progress.known.get(ref.url)) is None or known.stamp != ref.stamp]
        progress.unchanged += len(refs) - len(todo)
        self._observer.documents_listed(progress.spec.name, len(todo))
        failed = 0
        for ref in todo:
            try:
                self._csaf_document(fetcher, progress, keyring, ref)
            except (SourceError, AdvisoryError) as exc:
                failed += 1
                self._fail(progress, ref.url, exc)
        self._record_listing(progress, url, fetched, complete=not failed)

    def _csaf_document(self, fetcher: Fetcher, progress: _Progress, keyring: KeyRing, ref: DocumentRef) -> None:
        body = _body(fetcher.get(ref.url), ref.url)
        progress.downloaded += 1
        for algorithm, hash_url in ref.hash_urls:
            try:
                hash_file = _body(fetcher.get(hash_url, max_bytes=4096), hash_url)
            except SourceError as exc:
                if exc.context.get("status") == 404:
                    continue
                raise
            verify_hash(body, hash_file, algorithm, ref.url)
            break
        else:
            raise SourceError(f"{ref.url}: no .sha512 or .sha256 hash file", url=ref.url)
        signature = _body(fetcher.get(ref.signature_url, max_bytes=65536), ref.signature_url)
        keyring.verify_detached(body, signature, ref.url)
        loaded = parse_document(body, ref.url)
        if loaded.format is not AdvisorySource.CSAF:
            raise SourceError(f"{ref.url}: listed by a CSAF provider but not a CSAF document", url=ref.url)
        self._import(progress, loaded, ref.url, ref.stamp)
        self._observer.document_done(progress.spec.name, ref.url, ok=True)

    # --- KEV ----------------------------------------------------------------------------------------------------

    def _kev(self, spec: KevSource, fetcher: Fetcher, progress: _Progress) -> None:
        fetched = fetcher.get(spec.url, validators=self._validators(progress, spec.url))
        if isinstance(fetched, NotModified):
            progress.unchanged += 1
            return
        self._observer.documents_listed(spec.name, 1)
        progress.downloaded += 1
        known = progress.known.get(spec.url)
        validators = {"etag": fetched.validators.etag, "last_modified": fetched.validators.last_modified}
        try:
            if known is not None and known.sha256 == hashlib.sha256(fetched.body).hexdigest():
                progress.unchanged += 1
                self._state.record_resource(
                    spec.name,
                    spec.url,
                    known.model_copy(update=validators),
                    sync_id=self._sync_id,
                    now=self._clock.now(),
                )
            else:
                loaded = parse_document(fetched.body, spec.url)
                if loaded.format is not AdvisorySource.KEV:
                    raise SourceError(f"{spec.url}: not a CISA KEV catalogue", url=spec.url)
                self._import(progress, loaded, spec.url, None, **validators)
        except (SourceError, AdvisoryError) as exc:
            self._fail(progress, spec.url, exc)
            return
        self._observer.document_done(spec.name, spec.url, ok=True)

    # --- OSV ----------------------------------------------------------------------------------------------------

    def _osv(self, spec: OsvSource, fetcher: Fetcher, progress: _Progress) -> None:
        ecosystems = (
            fleet_ecosystems(self._state.fact_families()) if spec.ecosystems == "fleet" else tuple(spec.ecosystems)
        )
        if not ecosystems:
            progress.note = "no ecosystems: no package facts of a supported distribution yet (run `facts refresh`)"
        for ecosystem in ecosystems:
            try:
                self._osv_ecosystem(spec, fetcher, progress, ecosystem)
            except SourceError as exc:
                progress.failures.append(
                    DocumentFailure(url=ecosystem_url(spec.url, ecosystem, ""), reason=_reason(exc))
                )

    def _osv_ecosystem(self, spec: OsvSource, fetcher: Fetcher, progress: _Progress, ecosystem: str) -> None:
        listing = ecosystem_url(spec.url, ecosystem, "modified_id.csv")
        fetched = fetcher.get(listing, validators=self._validators(progress, listing))
        if isinstance(fetched, NotModified):
            return
        stamps = modified_ids(fetched.body, listing)
        prefix = ecosystem_url(spec.url, ecosystem, "")
        first = not any(url.startswith(prefix) and url != listing for url in progress.known)
        failed = 0
        if first:
            archive_url = ecosystem_url(spec.url, ecosystem, "all.zip")
            archive = _body(fetcher.get(archive_url, max_bytes=MAX_ARCHIVE_BYTES), archive_url)
            self._observer.documents_listed(spec.name, len(stamps))
            for name, raw in zip_records(archive, archive_url):
                record = name.rsplit("/", 1)[-1].removesuffix(".json")
                url = ecosystem_url(spec.url, ecosystem, record + ".json")
                failed += not self._osv_record(progress, url, raw, stamps.get(record))
        else:
            todo = [
                (record, stamp)
                for record, stamp in stamps.items()
                if (known := progress.known.get(ecosystem_url(spec.url, ecosystem, record + ".json"))) is None
                or known.stamp != stamp
            ]
            progress.unchanged += len(stamps) - len(todo)
            self._observer.documents_listed(spec.name, len(todo))
            for record, stamp in todo:
                url = ecosystem_url(spec.url, ecosystem, record + ".json")
                try:
                    raw = _body(fetcher.get(url), url)
                except SourceError as exc:
                    failed += 1
                    self._fail(progress, url, exc)
                    continue
                failed += not self._osv_record(progress, url, raw, stamp)
        self._record_listing(progress, listing, fetched, complete=not failed)

    def _osv_record(self, progress: _Progress, url: str, raw: bytes, stamp: str | None) -> bool:
        progress.downloaded += 1
        try:
            loaded = parse_document(raw, url)
            if loaded.format is not AdvisorySource.OSV:
                raise SourceError(f"{url}: not an OSV record", url=url)
            self._import(progress, loaded, url, stamp)
        except (SourceError, AdvisoryError) as exc:
            self._fail(progress, url, exc)
            return False
        self._observer.document_done(progress.spec.name, url, ok=True)
        return True


def _body(fetched: Fetched | NotModified, url: str) -> bytes:
    if isinstance(fetched, NotModified):  # only conditional requests can answer 304
        raise SourceError(f"{url}: answered 304 to an unconditional request", url=url)
    return fetched.body


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{getattr(exc, 'filename', None) or ''}: {exc.strerror or exc}".lstrip(": ")
    return str(exc)


__all__ = ["AdvisorySync", "DocumentFailure", "SourceSummary", "SyncObserver", "SyncReport"]
