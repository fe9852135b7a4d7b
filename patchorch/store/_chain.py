"""The audit chain's arithmetic: canonical JSON, a record's hash, and the digest of a state row.

Kept apart from the tables so migrations compute exactly what the store computes. Changing anything here changes
every hash ever written: these functions are part of the store's format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchorch.domain.canonical import canonical_json, sha256_hex

GENESIS = "0" * 64


def canonical(data: Any) -> str:
    """The domain's canonical JSON, with values JSON has no type for (datetimes) written as `str` gives them."""
    return canonical_json(data, default=str)


def record_hash(
    prev_hash: str, seq: int, run_id: str | None, at: str, actor: str, event: str, data: str, state: str | None
) -> str:
    """The hash of one audit record. `state` (the digests of the rows it wrote) joins the hash when present, so
    records written before state rows were covered keep their hashes."""
    fields: list[Any] = [prev_hash, seq, run_id, at, actor, event, data]
    if state is not None:
        fields.append(state)
    return sha256_hex(canonical(fields))


def row_digest(row: Mapping[str, Any]) -> str:
    """The digest of a state row's columns. NULL columns are left out, so a migration adding a nullable column
    does not change the digest of rows that never set it."""
    present = {column: value for column, value in row.items() if value is not None}
    return sha256_hex(canonical(present))
