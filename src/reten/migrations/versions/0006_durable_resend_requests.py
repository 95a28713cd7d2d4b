"""durable resend requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import reten.kit.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = sa.text("resend_requested_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resend_requested_at", reten.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_activities_resend_requested",
            ["tenant_id", "channel", "resend_requested_at"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_activities_resend_requested", sqlite_where=PENDING, postgresql_where=PENDING
        )
        batch_op.drop_column("resend_requested_at")
