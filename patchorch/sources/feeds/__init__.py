"""Fetching advisories from where they are published: CSAF 2.0 providers and aggregators, the CISA KEV catalogue
and OSV exports, over verified HTTPS with conditional requests and retries.

The orchestrator's `advisory_sync` drives these: it keeps the sync state in the store and imports what verifies.
"""

from __future__ import annotations

import importlib
import typing

from patchorch.sources.feeds.specs import BSI_PROVIDER_METADATA, CsafSource, KevSource, OsvSource, SourceSpec

# The HTTP client (httpx, tenacity) and OpenPGP (cryptography) load on first use (PEP 562), so that reading the
# source specs in patchorch.yml does not import them.
if typing.TYPE_CHECKING:
    from patchorch.sources.feeds._http import NOT_MODIFIED, Fetched, HttpFetcher, NotModified, Validators, tls_context
    from patchorch.sources.feeds._openpgp import KeyRing

_LAZY: dict[str, str] = {
    "NOT_MODIFIED": "patchorch.sources.feeds._http",
    "Fetched": "patchorch.sources.feeds._http",
    "HttpFetcher": "patchorch.sources.feeds._http",
    "NotModified": "patchorch.sources.feeds._http",
    "Validators": "patchorch.sources.feeds._http",
    "tls_context": "patchorch.sources.feeds._http",
    "KeyRing": "patchorch.sources.feeds._openpgp",
}

__all__ = [
    "BSI_PROVIDER_METADATA",
    "NOT_MODIFIED",
    "CsafSource",
    "Fetched",
    "HttpFetcher",
    "KevSource",
    "KeyRing",
    "NotModified",
    "OsvSource",
    "SourceSpec",
    "Validators",
    "tls_context",
]


def __getattr__(name: str) -> object:
    """Import a name of the HTTP client or OpenPGP module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
