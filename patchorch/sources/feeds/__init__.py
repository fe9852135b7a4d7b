"""Fetching advisories from where they are published: CSAF 2.0 providers and aggregators, the CISA KEV catalogue
and OSV exports, over verified HTTPS with conditional requests and retries.

The orchestrator's `advisory_sync` drives these: it keeps the sync state in the store and imports what verifies.
"""

from __future__ import annotations

from patchorch.sources.feeds._http import NOT_MODIFIED, Fetched, HttpFetcher, NotModified, Validators, tls_context
from patchorch.sources.feeds._openpgp import KeyRing
from patchorch.sources.feeds.specs import BSI_PROVIDER_METADATA, CsafSource, KevSource, OsvSource, SourceSpec

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
