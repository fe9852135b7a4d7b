"""What a migration that rewrites state rows appends to the audit chain: one `store-upgraded` record carrying the
new digests of those rows, so that `audit verify` keeps passing and says which revision changed them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from patchorch.store._chain import GENESIS, canonical, record_hash


def vouch_for(bind: sa.Connection, revision: str, state: dict[str, dict[str, str]]) -> None:
    """Append the `store-upgraded` record of `revision` for `state` ({table: {row key: digest}}) and move the head."""
    head = bind.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    seq += 1
    at = datetime.now(UTC).isoformat()
    data = canonical({"revision": revision, "rows": sum(len(rows) for rows in state.values())})
    body = canonical(state)
    digest = record_hash(prev, seq, None, at, "patchorch-upgrade", "store-upgraded", data, body)
    bind.execute(
        sa.text(
            "INSERT INTO audit (seq, run_id, at, actor, event, data_json, prev_hash, hash, state_json) "
            "VALUES (:seq, NULL, :at, 'patchorch-upgrade', 'store-upgraded', :data, :prev, :hash, :state)"
        ),
        {"seq": seq, "at": at, "data": data, "prev": prev, "hash": digest, "state": body},
    )
    if head:
        bind.execute(
            sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": digest}
        )
    else:
        bind.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"), {"seq": seq, "hash": digest}
        )
