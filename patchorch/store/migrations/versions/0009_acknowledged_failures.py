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

import sqlalchemy as sa
from alembic import op

from patchorch.store._chain import canonical, row_digest
from patchorch.store.migrations._vouch import vouch_for

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The statuses that spend the failure budget, as this revision knows them.
_FAILURES = ("failed", "unreachable")


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
        rows = bind.execute(
            sa.text("SELECT * FROM attempts WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": changed},
        )
        key = ("run_id", "stage", "host", "attempt")
        vouch_for(
            bind,
            revision,
            {"attempts": {canonical([r._mapping[k] for k in key]): row_digest(dict(r._mapping)) for r in rows}},
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
