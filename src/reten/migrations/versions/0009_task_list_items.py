"""the task list's read model: rendered items kept by triggers (PostgreSQL)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

`task_list_items` holds each TASK activity's list item as PostgreSQL rendered it (see
`reten.integration.models`). The triggers below keep it in the transaction of every change to a
field an item shows; the statements are frozen here as they were written, and a later change of
the item's fields is a new migration that replaces `reten_render_task_items`
(tests/integration/test_task_list_items.py holds the rendered items equal to the items built in
Python from the live tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _ts(column: str) -> str:
    # `iso`'s format: milliseconds (truncated) and Z.
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


# The item's members that depend on the activity, its task details, its operator and route and
# its current result (the commerce, the locale's labels and the retry flag are read-time).
_BODY_FIELDS = (
    ("id", "a.id::text"),
    ("activityOrigin", "'ACTIVITY'"),
    ("type", "a.type"),
    ("channel", "a.channel"),
    ("scheduledAt", _ts("a.scheduled_at")),
    ("occurredAt", _ts("ar.occurred_at")),
    ("createdAt", _ts("a.created_at")),
    ("updatedAt", _ts("a.updated_at")),
    ("lifecycleStatus", "a.lifecycle_status"),
    ("lifecycleStatusDetail", "a.lifecycle_detail"),
    ("operatorExternalId", "o.external_id"),
    (
        "operatorName",
        "nullif(concat_ws(' ', nullif(o.first_name, ''), nullif(o.last_name, '')), '')",
    ),
    ("routeExternalId", "r.external_id"),
    ("routeName", "r.name"),
    ("reason", "json_build_object('code', a.reason, 'label', a.reason)"),
    ("score", "a.score"),
    ("suggestedExecutionTime", _ts("a.suggested_execution_time")),
    ("resultCode", "ar.result_code"),
    ("providerActivityId", "a.provider_activity_id"),
)

_OBJECT = "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in _BODY_FIELDS) + ")::text"


def _render(signature: str, where: str) -> str:
    """A function rendering the items of the TASK activities `where` selects (upsert).

    It first locks those activities, then renders in a statement of its own: under READ
    COMMITTED that statement's snapshot is taken after the lock is granted, so it sees every
    change committed by a transaction it waited for. Without the lock a rename waiting on an
    item row that a concurrent result had rewritten would then write the item it had rendered
    from the activity before that result, and the result would vanish from the list.
    """
    return f"""
CREATE FUNCTION {signature} RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM activities a WHERE {where} AND a.type = 'TASK' ORDER BY a.id
        FOR NO KEY UPDATE;
    INSERT INTO task_list_items AS i
        (activity_id, tenant_id, scheduled_at, channel, lifecycle_status, retry_candidate, body)
    SELECT a.id, a.tenant_id, a.scheduled_at, a.channel, a.lifecycle_status,
           a.status = 'FAILED' AND a.final_result_id IS NULL AND a.current_result_id IS NULL,
           substr(item.object, 2, length(item.object) - 2)
    FROM activities a
    LEFT OUTER JOIN task_details td ON td.activity_id = a.id
    LEFT OUTER JOIN operators o ON o.id = td.operator_id
    LEFT OUTER JOIN routes r ON r.id = td.route_id
    LEFT OUTER JOIN activity_results ar ON ar.id = a.current_result_id
    CROSS JOIN LATERAL (SELECT {_OBJECT} AS object) AS item
    WHERE {where} AND a.type = 'TASK'
    ON CONFLICT (activity_id) DO UPDATE SET
        tenant_id = EXCLUDED.tenant_id, scheduled_at = EXCLUDED.scheduled_at,
        channel = EXCLUDED.channel, lifecycle_status = EXCLUDED.lifecycle_status,
        retry_candidate = EXCLUDED.retry_candidate, body = EXCLUDED.body;
END
$$
"""


# What the triggers call, with the ids of the activities a statement changed.
RENDER = _render("reten_render_task_items(ids uuid[])", "a.id = ANY(ids)")
# Every item of a tenant at once: the backfill below, and after a bulk load that ran with
# triggers off (`session_replication_role = replica`, as pg_restore --disable-triggers does).
RENDER_TENANT = _render("reten_render_tenant_task_items(tenant uuid)", "a.tenant_id = tenant")

# Columns of `activities` an item shows or derives from: an UPDATE that changes none of them
# (a dispatch lease, an attempt counter) renders nothing.
_ACTIVITY_COLUMNS = (
    "tenant_id, type, channel, status, lifecycle_status, lifecycle_detail, scheduled_at,"
    " created_at, updated_at, reason, score, suggested_execution_time, provider_activity_id,"
    " current_result_id, final_result_id"
)


def _changed(columns: str) -> str:
    both = ", ".join(f"n.{c.strip()}" for c in columns.split(","))
    before = ", ".join(f"o.{c.strip()}" for c in columns.split(","))
    return f"({both}) IS DISTINCT FROM ({before})"


# (trigger function, table, event, transition tables, the ids of the activities to render)
TRIGGERS = (
    (
        "reten_task_items_activities_inserted",
        "activities",
        "INSERT",
        "NEW TABLE AS new_rows",
        "SELECT n.id FROM new_rows n WHERE n.type = 'TASK'",
    ),
    (
        "reten_task_items_activities_updated",
        "activities",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id"
        f" WHERE n.type = 'TASK' AND {_changed(_ACTIVITY_COLUMNS)}",
    ),
    (
        "reten_task_items_task_details_inserted",
        "task_details",
        "INSERT",
        "NEW TABLE AS new_rows",
        "SELECT n.activity_id FROM new_rows n",
    ),
    (
        "reten_task_items_task_details_updated",
        "task_details",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT n.activity_id FROM new_rows n JOIN old_rows o ON o.activity_id = n.activity_id"
        f" WHERE {_changed('operator_id, route_id')}",
    ),
    (
        "reten_task_items_task_details_deleted",
        "task_details",
        "DELETE",
        "OLD TABLE AS old_rows",
        "SELECT o.activity_id FROM old_rows o",
    ),
    (
        "reten_task_items_operators_updated",
        "operators",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT td.activity_id FROM new_rows n JOIN old_rows o ON o.id = n.id"
        " JOIN task_details td ON td.tenant_id = n.tenant_id AND td.operator_id = n.id"
        f" WHERE {_changed('external_id, first_name, last_name')}",
    ),
    (
        "reten_task_items_routes_updated",
        "routes",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT td.activity_id FROM new_rows n JOIN old_rows o ON o.id = n.id"
        " JOIN task_details td ON td.tenant_id = n.tenant_id AND td.route_id = n.id"
        f" WHERE {_changed('external_id, name')}",
    ),
    (
        # A result may be written after the activity that points at it (current_result_id has no
        # foreign key), so its insertion renders that activity too.
        "reten_task_items_activity_results_inserted",
        "activity_results",
        "INSERT",
        "NEW TABLE AS new_rows",
        "SELECT a.id FROM new_rows n"
        " JOIN activities a ON a.id = n.activity_id AND a.current_result_id = n.id",
    ),
    (
        # Results are written once and never edited; should one be, its activity's item follows.
        "reten_task_items_activity_results_updated",
        "activity_results",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT a.id FROM new_rows n JOIN old_rows o ON o.id = n.id"
        " JOIN activities a ON a.id = n.activity_id AND a.current_result_id = n.id"
        f" WHERE {_changed('occurred_at, result_code')}",
    ),
)


def upgrade() -> None:
    op.create_table(
        "task_list_items",
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("lifecycle_status", sa.String(length=24), nullable=False),
        sa.Column("retry_candidate", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_task_list_items_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_task_list_items")),
        postgresql_with={"fillfactor": 70},
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(RENDER)
    op.execute(RENDER_TENANT)
    for function, table, event, transitions, ids in TRIGGERS:
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN PERFORM reten_render_task_items(ARRAY({ids})); RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {function} AFTER {event} ON {table}"
            f" REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    # The items of the activities already stored.
    op.execute("SELECT reten_render_tenant_task_items(id) FROM tenants")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function, table, *_ in TRIGGERS:
            op.execute(f"DROP TRIGGER {function} ON {table}")
            op.execute(f"DROP FUNCTION {function}()")
        op.execute("DROP FUNCTION reten_render_tenant_task_items(uuid)")
        op.execute("DROP FUNCTION reten_render_task_items(uuid[])")
    op.drop_table("task_list_items")
