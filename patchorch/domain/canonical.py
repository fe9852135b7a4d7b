"""Canonical JSON: the one text a value is hashed as, for plans, policies and the store's audit chain alike.

Keys sorted, no spaces, non-ASCII kept as UTF-8. Changing this changes every digest patchorch has recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any


def canonical_json(data: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """`data` as canonical JSON; `default` turns values JSON has no type for into ones it has (TypeError without)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def sha256_hex(text: str) -> str:
    """SHA-256 of `text` (UTF-8) as 64 hex digits: the digest of a canonical JSON text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
