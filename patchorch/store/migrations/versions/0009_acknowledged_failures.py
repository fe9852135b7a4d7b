"""Acknowledged failures as data: an attempt records who accepted its failure and when (attempts.acknowledged_at,
attempts.acknowledged_by), instead of a `failures-acknowledged` audit note that the engine parsed back.

Acknowledgements noted before this revision are carried over: each noted host's latest failed attempt at the time of
the note gets the note's time and actor. The rows so changed are vouched for by one `store-upgraded` record appended
to the chain, so `audit verify` keeps passing; the notes themselves stay in the chain as they were.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from patchorch.store._chain import GENESIS, canonical, record_hash, row_digest

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The statuses that spend the failure budget, as this revision knows them.
_FAILURES = ("failed", "unreachable")
_ATTEMPT_KEY = ("run_id", "stage", "host", "attempt")


def upgrade() -> None:
    op.add_column("attempts", sa.Column("acknowledged_at", sa.String(40), nullable=True))
    op.add_column("attempts", sa.Column("acknowledged_by", sa.String(200), nullable=True))
    bind = op.get_bind()
    notes = bind.execute(
        sa.text("SELECT run_id, at, actor, data_json FROM audit WHERE event = 'failures-acknowledged' ORDER BY seq")
    ).all()
    changed: list[int] = []
    for note in notes:
        for host in json.loads(note.data_json).get("hosts", []):
            latest = bind.execute(
                sa.text(
                    "SELECT id, status, acknowledged_at FROM attempts WHERE run_id = :run AND host = :host "
                    "AND dispatched_at <= :at ORDER BY id DESC LIMIT 1"
                ),
                {"run": note.run_id, "host": host, "at": note.at},
            ).first()
            if latest is None or latest.status not in _FAILURES or latest.acknowledged_at is not None:
                continue
            bind.execute(
                sa.text("UPDATE attempts SET acknowledged_at = :at, acknowledged_by = :actor WHERE id = :id"),
                {"at": note.at, "actor": note.actor, "id": latest.id},
            )
            changed.append(latest.id)
    if changed:
        _vouch(bind, changed)


def _vouch(bind: sa.Connection, ids: list[int]) -> None:
    """Append one `store-upgraded` record carrying the new digests of the attempt rows this revision changed."""
    rows = bind.execute(
        sa.text("SELECT * FROM attempts WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids}
    )
    state = {"attempts": {canonical([r._mapping[k] for k in _ATTEMPT_KEY]): row_digest(dict(r._mapping)) for r in rows}}
    head = bind.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    seq += 1
    at = datetime.now(UTC).isoformat()
    data = canonical({"revision": revision, "rows": len(ids)})
    body = canonical(state)
    digest = record_hash(prev, seq, None, at, "patchorch-upgrade", "store-upgraded", data, body)
    bind.execute(
        sa.text(
            "INSERT INTO audit (seq, run_id, at, actor, event, data_json, prev_hash, hash, state_json) "
            "VALUES (:seq, NULL, :at, 'patchorch-upgrade', 'store-upgraded', :data, :prev, :hash, :state)"
        ),
        {"seq": seq, "at": at, "data": data, "prev": prev, "hash": digest, "state": body},
    )
    # A store with acknowledgement notes has audit records, so it has a head row.
    bind.execute(sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": digest})


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
