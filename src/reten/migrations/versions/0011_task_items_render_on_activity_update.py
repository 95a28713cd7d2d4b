"""the task list's item follows a new result through its activity's UPDATE alone

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A result reaches an activity's list item only through the activity's `current_result_id`, and
the results service writes every result in the same statement as the compare-and-set UPDATE
that points the activity at it (on PostgreSQL one statement: see
`activities.service.apply_transition`). The UPDATE's trigger renders the item after that
statement, with the result already visible. The trigger on the results' INSERT, kept for a result
written after its activity, then rendered the same item a second time in every submission
(≈ 0.3 ms of PostgreSQL's ≈ 1.5 ms), and is dropped. A standalone result has no activity and
no item.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_NAME = "reten_task_items_activity_results_inserted"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {_NAME} ON activity_results")
        op.execute(f"DROP FUNCTION {_NAME}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM reten_render_task_items(ARRAY(SELECT a.id FROM new_rows n"
            " JOIN activities a ON a.id = n.activity_id AND a.current_result_id = n.id));"
            " RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {_NAME} AFTER INSERT ON activity_results"
            f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {_NAME}()"
        )
