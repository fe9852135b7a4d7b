"""What `advisories sync` remembers: each sync, the state of every resource it fetched, and per-sync changes. Stores
opened by builds before this revision may have them already (created on demand): each is created only when missing.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "sync_runs" not in existing:
        op.create_table(
            "sync_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("summary", sa.Text, nullable=False),
            sa.Column("notified_at", sa.DateTime),
        )
    if "sync_resources" not in existing:
        op.create_table(
            "sync_resources",
            sa.Column("source", sa.String(100), primary_key=True),
            sa.Column("url", sa.String(2000), primary_key=True),
            sa.Column("etag", sa.Text),
            sa.Column("last_modified", sa.Text),
            sa.Column("stamp", sa.Text),
            sa.Column("sha256", sa.String(64)),
            sa.Column("sync_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False),
            sa.Column("synced_at", sa.DateTime, nullable=False),
        )
    if "sync_changes" not in existing:
        op.create_table(
            "sync_changes",
            sa.Column("sync_id", sa.Integer, sa.ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("advisory_id", sa.String(200), primary_key=True),
            sa.Column("status", sa.String(10), nullable=False),
        )


def downgrade() -> None:
    for table in ("sync_changes", "sync_resources", "sync_runs"):
        op.drop_table(table)
