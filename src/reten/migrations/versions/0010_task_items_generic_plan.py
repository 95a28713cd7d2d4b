"""the task list's render function keeps one plan

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

`reten_render_task_items(ids)` runs inside every write that changes a listed field, mostly with
one id. PL/pgSQL plans its statements with the parameter's value for the first five calls of a
session and then keeps a generic plan only if it is estimated no dearer than those: a generic
`id = ANY(ids)` is estimated at ten rows against one, so PostgreSQL planned the eight-table
upsert again on every call (≈ 1.3 ms of its ≈ 1.5 ms, twice per result submission). Its generic
plan is the one wanted for any size (index lookups from the ids outward), so the function is
told to use it. The tenant-wide render keeps choosing per call: its best plan depends on the
tenant's size.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER FUNCTION reten_render_task_items(uuid[]) SET plan_cache_mode = force_generic_plan"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER FUNCTION reten_render_task_items(uuid[]) RESET plan_cache_mode")
