"""Host facts record the host's OS CPE (published in /etc/os-release, or derived for Debian and Ubuntu) and where it
came from. Facts stored before have neither until the next `patchorch facts refresh`.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fact_hosts") as batch:
        batch.add_column(sa.Column("os_cpe", sa.String(200), nullable=True))
        batch.add_column(sa.Column("os_cpe_source", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fact_hosts") as batch:
        batch.drop_column("os_cpe_source")
        batch.drop_column("os_cpe")
