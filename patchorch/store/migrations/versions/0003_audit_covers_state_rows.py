"""The audit chain covers the state rows: each audit record carries the digests of the rows it wrote (`state_json`,
part of its hash), and `verify_audit` recomputes them. Rows written before this revision are vouched for by one
`store-upgraded` record appended here; the chain before it keeps its hashes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from patchorch.store._chain import canonical, row_digest
from patchorch.store.migrations._vouch import vouch_for

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The state tables and the columns that name a row, as this revision knows them.
_KEYS = {
    "runs": ("id",),
    "stages": ("run_id", "name"),
    "attempts": ("run_id", "stage", "host", "attempt"),
    "approvals": ("run_id", "stage"),
}


def upgrade() -> None:
    op.add_column("audit", sa.Column("state_json", sa.Text, nullable=True))
    bind = op.get_bind()
    # patchorch 0.1.0 refuses a store whose schema number is above its own 1: it cannot keep this chain.
    bind.execute(sa.text("UPDATE store_meta SET value = '2' WHERE key = 'schema'"))
    state: dict[str, dict[str, str]] = {}
    for table, keys in _KEYS.items():
        for row in bind.execute(sa.text(f"SELECT * FROM {table}")):  # noqa: S608  # table names are constants above
            mapping = dict(row._mapping)
            state.setdefault(table, {})[canonical([mapping[k] for k in keys])] = row_digest(mapping)
    if state:
        vouch_for(bind, revision, state)


def downgrade() -> None:
    op.drop_column("audit", "state_json")
