"""The distribution side of CSAF 2.0 (section 7): provider metadata, aggregators, changes.csv and ROLIE feeds.

A trusted provider publishes `provider-metadata.json` naming its public OpenPGP keys and its distributions: a
directory with `changes.csv` (one `"path","timestamp"` line per document, newest first) or ROLIE feeds listing
entries with links to the document, its hash file and its signature. An aggregator's `aggregator.json` lists the
providers' metadata. Each document comes with `<document>.sha512` or `.sha256` and a detached `<document>.asc`.
These functions only read what was fetched; the fetching and the sync state live in the orchestrator.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field

from patchorch.errors import AdvisoryError, SourceError
from patchorch.sources.advisories._document import parse_json, validate

MAX_LISTED = 200_000


class _Lenient(BaseModel):
    # The metadata formats allow extensions: unknown keys are ignored, known ones must have the right type.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PublicKey(_Lenient):
    """One entry of `public_openpgp_keys`."""

    url: str
    fingerprint: str | None = None


class RolieFeed(_Lenient):
    """One ROLIE feed of a distribution."""

    url: str
    tlp_label: str | None = None


class Rolie(_Lenient):
    """A distribution's ROLIE feeds."""

    feeds: tuple[RolieFeed, ...] = ()


class Distribution(_Lenient):
    """A directory with changes.csv, or ROLIE feeds."""

    directory_url: str | None = None
    rolie: Rolie | None = None


class ProviderMetadata(_Lenient):
    """The parts of provider-metadata.json that sync uses."""

    canonical_url: str
    role: str = Field(min_length=1)
    distributions: tuple[Distribution, ...] = ()
    public_openpgp_keys: tuple[PublicKey, ...] = ()


class _MetadataLink(_Lenient):
    url: str


class AggregatedProvider(_Lenient):
    """One provider listed by an aggregator."""

    metadata: _MetadataLink


class AggregatorMetadata(_Lenient):
    """The parts of aggregator.json that sync uses: where each listed provider's metadata is."""

    csaf_providers: tuple[AggregatedProvider, ...] = ()
    csaf_publishers: tuple[AggregatedProvider, ...] = ()


@dataclass(frozen=True)
class DocumentRef:
    """A document a listing names: its URL, when it last changed, and where its hash files and signature are."""

    url: str
    stamp: str
    hash_urls: tuple[tuple[str, str], ...]
    signature_url: str


def _json(body: bytes, url: str) -> Any:
    try:
        return parse_json(body, url)
    except AdvisoryError as exc:  # the strict reader's message; a source's problem here, not a person's input
        raise SourceError(str(exc), url=url) from None


def is_aggregator(body: bytes, url: str) -> bool:
    """Whether a fetched metadata document is an aggregator.json (it has an `aggregator` object)."""
    data = _json(body, url)
    return isinstance(data, dict) and "aggregator" in data


def provider_metadata(body: bytes, url: str) -> ProviderMetadata:
    """Parse provider-metadata.json; SourceError naming the URL when it is not one."""
    return _parse(ProviderMetadata, body, url)


def aggregator_metadata(body: bytes, url: str) -> tuple[str, ...]:
    """The provider-metadata.json URLs an aggregator.json lists (providers and publishers)."""
    parsed = _parse(AggregatorMetadata, body, url)
    return tuple(entry.metadata.url for entry in (*parsed.csaf_providers, *parsed.csaf_publishers))


Parsed = TypeVar("Parsed", bound=BaseModel)


def _parse(model: type[Parsed], body: bytes, url: str) -> Parsed:
    data = _json(body, url)
    try:
        return validate(model, data, url)
    except AdvisoryError as exc:
        raise SourceError(str(exc), url=url) from None


def _https_join(base: str, ref: str, listing: str) -> str:
    url = urljoin(base, ref)
    if not url.startswith("https://"):
        raise SourceError(f"{listing}: names {ref!r}, which is not an https:// URL", url=listing)
    return url


def _refs_for(url: str, stamp: str) -> DocumentRef:
    return DocumentRef(
        url=url,
        stamp=stamp,
        hash_urls=(("sha512", url + ".sha512"), ("sha256", url + ".sha256")),
        signature_url=url + ".asc",
    )


def changes_csv(body: bytes, directory_url: str) -> tuple[DocumentRef, ...]:
    """The documents changes.csv lists, resolved against the directory; the newest stamp wins for a repeated path."""
    base = directory_url if directory_url.endswith("/") else directory_url + "/"
    listing = base + "changes.csv"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{listing}: not UTF-8", url=listing) from None
    found: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise SourceError(f'{listing}: line {number}: expected "path","timestamp"', url=listing)
        if number > MAX_LISTED:
            raise SourceError(f"{listing}: more than {MAX_LISTED} lines", url=listing)
        url = _https_join(base, row[0].strip(), listing)
        found[url] = max(found.get(url, ""), row[1].strip())
    return tuple(_refs_for(url, stamp) for url, stamp in found.items())


def rolie_feed(body: bytes, feed_url: str) -> tuple[DocumentRef, ...]:
    """The documents a ROLIE feed's entries name, with the hash and signature links they give."""
    data = _json(body, feed_url)
    entries = data.get("feed", {}).get("entry", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourceError(f"{feed_url}: not a ROLIE feed (no feed.entry list)", url=feed_url)
    refs = []
    for index, entry in enumerate(entries[:MAX_LISTED]):
        if not isinstance(entry, dict):
            raise SourceError(f"{feed_url}: /feed/entry/{index}: expected an object", url=feed_url)
        links: set[tuple[str, str]] = {
            (str(link.get("rel")), link["href"])
            for link in entry.get("link", [])
            if isinstance(link, dict) and isinstance(link.get("href"), str)
        }
        content = entry.get("content")
        source = content.get("src") if isinstance(content, dict) else None
        source = source or next((href for rel, href in links if rel == "self"), None)
        updated = entry.get("updated")
        if not isinstance(source, str) or not isinstance(updated, str):
            raise SourceError(f"{feed_url}: /feed/entry/{index}: needs content.src and updated", url=feed_url)
        url = _https_join(feed_url, source, feed_url)
        hashes = [
            (name, _https_join(feed_url, href, feed_url))
            for rel, href in sorted(links, key=lambda link: str(link[1]))
            if rel == "hash" and (name := _hash_name(href))
        ]
        signature = next((href for rel, href in links if rel == "signature"), url + ".asc")
        fallback = _refs_for(url, updated)
        refs.append(
            DocumentRef(
                url=url,
                stamp=updated,
                hash_urls=tuple(sorted(hashes, reverse=True)) or fallback.hash_urls,
                signature_url=_https_join(feed_url, signature, feed_url),
            )
        )
    return tuple(refs)


def _hash_name(href: str) -> str | None:
    for name in ("sha512", "sha256"):
        if href.endswith("." + name):
            return name
    return None


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def verify_hash(document: bytes, hash_file: bytes, algorithm: str, url: str) -> None:
    """SourceError unless the hash file (`<hex>  <filename>` or just `<hex>`) matches the document's digest."""
    words = hash_file.decode("ascii", errors="replace").split()
    expected = words[0].lower() if words else ""
    length = hashlib.new(algorithm).digest_size * 2
    if len(expected) != length or not _HEX.match(expected):
        raise SourceError(f"{url}.{algorithm}: not a {algorithm} hash file", url=url)
    actual = hashlib.new(algorithm, document).hexdigest()
    if actual != expected:
        raise SourceError(
            f"{url}: {algorithm} mismatch: the document hashes to {actual[:16]}..., its hash file says "
            f"{expected[:16]}...",
            url=url,
        )
