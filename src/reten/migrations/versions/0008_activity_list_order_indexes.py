"""indexes for the management list's orders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_activities_list_created",
        "activities",
        ["tenant_id", sa.literal_column("created_at").desc(), "id"],
    )
    op.create_index(
        "ix_activities_list_scheduled", "activities", ["tenant_id", "scheduled_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_activities_list_scheduled", table_name="activities")
    op.drop_index("ix_activities_list_created", table_name="activities")
