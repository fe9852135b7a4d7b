"""HTTPS fetching for advisory sync: conditional requests, bounded bodies, retries with back-off.

`HttpFetcher.get` sends the stored ETag / Last-Modified as If-None-Match / If-Modified-Since and returns either the
new body with its validators or `NOT_MODIFIED`. Transport errors, 429 and 5xx answers are retried with exponential
back-off (tenacity; the sleep is injectable so tests never wait); any other failure raises `SourceError` naming the
URL. Bodies larger than the limit are refused while they stream, never read whole.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from patchorch.errors import SourceError

# A CSAF or OSV document is at most 20 MiB (sources.advisories.MAX_BYTES); an OSV ecosystem's all.zip is larger.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024
MAX_REDIRECTS: Final = 5
USER_AGENT: Final = "patchorch-advisory-sync"


@dataclass(frozen=True)
class Validators:
    """What a server said about a resource's version: sent back on the next request to get 304 when unchanged."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A resource's body (status 200) with its validators."""

    url: str
    body: bytes
    validators: Validators


class NotModified:
    """The server answered 304: the resource is unchanged since the validators we sent."""

    def __repr__(self) -> str:
        return "NOT_MODIFIED"


NOT_MODIFIED: Final = NotModified()


class _Retryable(Exception):
    """A failure worth another try: a transport error, 429 or a 5xx answer."""


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate-verifying TLS: the system's trust store, or only `ca_file` when given (a private CA)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class HttpFetcher:
    """GET over HTTPS with validators, size limits and retries. Plain http:// is refused."""

    def __init__(
        self,
        *,
        ca_file: Path | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            verify=tls_context(ca_file),
            timeout=timeout,
            # Redirects are followed by hand, so that one to plain http:// is refused before it is requested.
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self, url: str, *, validators: Validators | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> Fetched | NotModified:
        """The resource at `url`, or NOT_MODIFIED when `validators` still match; SourceError when it cannot be had."""
        if not url.startswith("https://"):
            raise SourceError(f"{url}: only https:// URLs are fetched", url=url)
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=60),
            retry=retry_if_exception_type(_Retryable),
            reraise=False,
        )
        if self._sleep is not None:
            retrying.sleep = self._sleep
        try:
            return retrying(self._get_once, url, validators, max_bytes)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SourceError(f"{url}: {cause} (after {self._attempts} attempts)", url=url) from None

    def _get_once(self, url: str, validators: Validators | None, max_bytes: int) -> Fetched | NotModified:
        headers = {}
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                headers["If-Modified-Since"] = validators.last_modified
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            result = self._request(url, target, headers, max_bytes)
            if not isinstance(result, str):
                return result
            target = result
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects", url=url)

    def _request(self, url: str, target: str, headers: dict[str, str], max_bytes: int) -> Fetched | NotModified | str:
        """One GET of `target`: the answer, or the https:// URL a redirect points to."""
        try:
            with self._client.stream("GET", target, headers=headers) as response:
                if response.has_redirect_location:
                    location = str(response.url.join(response.headers.get("Location", "")))
                    if not location.startswith("https://"):
                        raise SourceError(f"{url}: redirected to {location}, which is not https://", url=url)
                    return location
                if response.status_code == 304:
                    return NOT_MODIFIED
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise SourceError(f"{url}: HTTP {response.status_code}", url=url, status=response.status_code)
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise SourceError(f"{url}: larger than the limit of {max_bytes} bytes", url=url)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise SourceError(f"{url}: larger than the limit of {max_bytes} bytes", url=url)
                    chunks.append(chunk)
                return Fetched(
                    url=str(response.url),
                    body=b"".join(chunks),
                    validators=Validators(
                        etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified")
                    ),
                )
        except httpx.TransportError as exc:
            raise _Retryable(_transport_message(exc)) from exc


def _transport_message(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate not trusted ({text})"
    return text
