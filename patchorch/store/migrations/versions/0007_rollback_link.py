"""Rollbacks: a run records the run it undoes (runs.rollback_of), indexed for the link back.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and unset on every existing run: the audit digests of their rows stay what they were (NULL columns are
    # left out of a row's digest).
    op.add_column("runs", sa.Column("rollback_of", sa.String(64), nullable=True))
    op.create_index("ix_runs_rollback_of", "runs", ["rollback_of"])


def downgrade() -> None:
    op.drop_index("ix_runs_rollback_of", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rollback_of")
