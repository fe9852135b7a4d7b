"""Advisories and package facts. patchorch 0.1.0 created these only when an advisory command first ran, so a store
adopted from it may or may not have them: each is created only when missing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "advisories" not in existing:
        op.create_table(
            "advisories",
            sa.Column("id", sa.String(200), primary_key=True),
            sa.Column("source", sa.String(10), nullable=False),
            sa.Column("revision", sa.String(200), nullable=False),
            sa.Column("revision_key", sa.String(400), nullable=False),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("document_hash", sa.String(64), nullable=False),
            sa.Column("document_path", sa.Text, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("imported_at", sa.DateTime, nullable=False),
        )
    if "advisory_packages" not in existing:
        op.create_table(
            "advisory_packages",
            sa.Column(
                "advisory_id", sa.String(200), sa.ForeignKey("advisories.id", ondelete="CASCADE"), primary_key=True
            ),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("ecosystem", sa.String(10), nullable=False),
            sa.Column("distro", sa.String(200)),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("fixed", sa.Text, nullable=False),
        )
        op.create_index("ix_advisory_packages_name", "advisory_packages", ["ecosystem", "name"])
    if "fact_hosts" not in existing:
        op.create_table(
            "fact_hosts",
            sa.Column("host", sa.String(255), primary_key=True),
            sa.Column("os_family", sa.String(100), nullable=False),
            sa.Column("os_version", sa.String(50), nullable=False),
            sa.Column("os_release", sa.String(50), nullable=False),
            sa.Column("manager", sa.String(10)),
            sa.Column("package_count", sa.Integer, nullable=False),
            sa.Column("gathered_at", sa.DateTime, nullable=False),
            sa.Column("saved_at", sa.DateTime, nullable=False),
        )
    if "fact_packages" not in existing:
        op.create_table(
            "fact_packages",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("host", sa.String(255), sa.ForeignKey("fact_hosts.host", ondelete="CASCADE"), nullable=False),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("version", sa.String(200), nullable=False),
            sa.Column("arch", sa.String(50)),
            sa.Column("source", sa.String(200)),
        )
        op.create_index("ix_fact_packages_host", "fact_packages", ["host"])


def downgrade() -> None:
    for table in ("fact_packages", "fact_hosts", "advisory_packages", "advisories"):
        op.drop_table(table)
