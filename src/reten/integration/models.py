"""The task list's read model: each TASK activity's list item, rendered once per change.

The integration list is what every integrator polls all day. Rendering its items on each read
(an eight-table join and some twenty `to_char`/`json_build_object` calls per row) cost
PostgreSQL about four times what reading the ids of the page does, so PostgreSQL renders each
item when something it shows changes and the list reads the rendered text.

Who writes it: triggers in the database (migration 0009), in the transaction of the change
itself, on every statement that changes a field an item shows — activities, task_details,
operators, routes, activity_results. No application code writes these rows, so no write path,
present or future, ORM or bulk SQL, can forget to. What changes often or belongs to the whole
tenant is not stored but joined or derived at read time (`integration.service.page_json_sql`):
the commerce (a rename of a commerce with 50 000 activities rewrites nothing), the labels of the
tenant's locale, and whether a retry may be forced (it depends on the tenant's dispatch
configuration).

Only PostgreSQL fills the table; on SQLite it exists, so that the schema is one, and stays empty:
there the items are built in Python from the live tables (`list_task_items`).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text
from sqlalchemy.types import Uuid

from reten.kit.db import Base, UTCDateTime

task_list_items = Table(
    "task_list_items",
    Base.metadata,
    Column(
        "activity_id",
        Uuid,
        ForeignKey("activities.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tenant_id", Uuid, nullable=False),
    # The list's order, so the page's items are sorted without going back to `activities`.
    Column("scheduled_at", UTCDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("lifecycle_status", String(24), nullable=False),
    # FAILED with no result: a retry may be forced if the channel has an active configuration.
    Column("retry_candidate", Boolean, nullable=False),
    # The item's JSON members other than the read-time ones, without the braces.
    Column("body", Text, nullable=False),
    postgresql_with={"fillfactor": 70},  # room for HOT updates: every result rewrites a row
)
