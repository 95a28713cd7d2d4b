"""Reads of the integration API: the task list, in the integration vocabulary."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.sql.selectable import TextualSelect

from reten.activities.lifecycle import LifecycleStatus, ResultStatus
from reten.activities.models import ActivityType
from reten.activities.service import state_of_columns
from reten.dispatch.service import force_retry_flags, force_retry_sql
from reten.integration.vocabulary import (
    LABELS,
    LIFECYCLE_OF_RESULT_STATUS,
    PHASE_OF_STATUS,
    RESULT_STATUS_OUT,
    IntegrationResultStatus,
    IntegrationStatus,
    label_of,
    result_status_of,
    status_of,
)
from reten.kit.counts import totals
from reten.kit.db import Database, UTCDateTime
from reten.kit.pagination import COUNT_CAP, PageParams
from reten.kit.time import iso
from reten.kit.validators import join_name
from reten.results.service import SubmittedResult


@dataclass(frozen=True)
class TaskFilters:
    statuses: tuple[IntegrationStatus, ...] | None = None
    result_status: IntegrationResultStatus | None = None
    channel: str | None = None
    external_commerce_id: str | None = None
    external_operator_id: str | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None
    updated_since: datetime | None = None

    def shape(self) -> tuple[int | bool, ...]:
        """Which filters are set (and how many phases): what the SQL text depends on."""
        return (
            len(self.statuses or ()),
            self.result_status is not None,
            self.channel is not None,
            self.scheduled_from is not None,
            self.scheduled_to is not None,
            self.updated_since is not None,
            self.external_commerce_id is not None,
            self.external_operator_id is not None,
        )


# The list is the integrators' hot path, so its SQL is written out once per filter shape and
# kept (`_count_statement`, `_page_statement`): no statement is built, and no cache key is
# computed over an eight-table join, per request. Every table read here is tenant-scoped in the
# text itself (`tenant_id = :tenant_id` on activities and on each lookup of a filter); the
# joins go from those rows by primary or unique key. bench/limit.py serves P1 from this very
# text.


def _where(shape: tuple[int | bool, ...]) -> str:
    """The WHERE of the activities selected by a filter shape (columns of `activities`)."""
    phases, result_status, channel, sched_from, sched_to, updated, commerce, operator = shape
    clauses = ["tenant_id = :tenant_id", "type = :type"]
    if phases == 1:
        clauses.append("phase = :phase_0")
    elif phases:
        clauses.append("phase IN (" + ", ".join(f":phase_{i}" for i in range(phases)) + ")")
    if result_status:
        clauses.append("lifecycle_status = :lifecycle_status")
    if channel:
        clauses.append("channel = :channel")
    if sched_from:
        clauses.append("scheduled_at >= :scheduled_from")
    if sched_to:
        clauses.append("scheduled_at <= :scheduled_to")
    if updated:
        clauses.append("updated_at >= :updated_since")
    if commerce:
        clauses.append(
            "id IN (SELECT ca.activity_id FROM commerce_assignments ca"
            " WHERE ca.tenant_id = :tenant_id AND ca.commerce_id IN"
            " (SELECT c.id FROM commerces c"
            " WHERE c.tenant_id = :tenant_id AND c.external_id = :external_commerce_id))"
        )
    if operator:
        clauses.append(
            "id IN (SELECT td.activity_id FROM task_details td"
            " WHERE td.tenant_id = :tenant_id AND td.operator_id IN"
            " (SELECT o.id FROM operators o"
            " WHERE o.tenant_id = :tenant_id AND o.external_id = :external_operator_id))"
        )
    return " AND ".join(clauses)


_BIND_TYPES = (
    bindparam("tenant_id", type_=Uuid),
    bindparam("scheduled_from", type_=UTCDateTime),
    bindparam("scheduled_to", type_=UTCDateTime),
    bindparam("updated_since", type_=UTCDateTime),
)


def _typed(sql: str) -> TextClause:
    stmt = text(sql)
    return stmt.bindparams(*(b for b in _BIND_TYPES if f":{b.key}" in sql))


def count_sql(shape: tuple[int | bool, ...]) -> str:
    # Capped: the count stops after COUNT_CAP + 1 index entries however large the tenant is.
    return (
        f"SELECT count(*) FROM (SELECT id FROM activities WHERE {_where(shape)}"
        f" LIMIT {COUNT_CAP + 1}) AS capped"
    )


def _page_ids(shape: tuple[int | bool, ...], per_page: int, offset: int) -> str:
    """The page's ids: one range scan of the list index, as the subquery `page`.

    LIMIT and OFFSET are literals (validated ints): sent as parameters, PostgreSQL's generic plan
    assumes an unknown LIMIT selects thousands of rows, so it kept re-planning the join on every
    execution (1-3 ms each); with literals it settles on a generic plan after five executions.
    """
    return (
        f"(SELECT id FROM activities WHERE {_where(shape)}"
        f" ORDER BY scheduled_at, id LIMIT {int(per_page)} OFFSET {int(offset)}) AS page"
    )


def _page_from(shape: tuple[int | bool, ...], per_page: int, offset: int) -> str:
    """The page: its ids first (`_page_ids`), then the rows items show."""
    return (
        f" FROM {_page_ids(shape, per_page, offset)}"
        " JOIN activities a ON a.id = page.id"
        " JOIN commerce_assignments ca ON ca.activity_id = a.id"
        " JOIN commerces c ON c.id = ca.commerce_id"
        " LEFT OUTER JOIN task_details td ON td.activity_id = a.id"
        " LEFT OUTER JOIN operators o ON o.id = td.operator_id"
        " LEFT OUTER JOIN routes r ON r.id = td.route_id"
        " LEFT OUTER JOIN activity_results ar ON ar.id = a.current_result_id"
    )


def page_sql(shape: tuple[int | bool, ...], per_page: int, offset: int) -> str:
    """The page's rows, for items built in Python (`task_item`, the SQLite path)."""
    return (
        "SELECT a.id, a.type, a.channel, a.status, a.final_result_id, a.current_result_id,"
        " a.lifecycle_status, a.lifecycle_detail, a.scheduled_at, a.created_at, a.updated_at,"
        " a.reason, a.score, a.suggested_execution_time, a.provider_activity_id,"
        " c.id AS commerce_id, c.external_id AS commerce_external_id, c.name AS commerce_name,"
        " o.external_id AS operator_external_id, o.first_name AS operator_first_name,"
        " o.last_name AS operator_last_name, r.external_id AS route_external_id,"
        " r.name AS route_name, ar.occurred_at AS occurred_at, ar.result_code AS result_code"
        + _page_from(shape, per_page, offset)
        + " ORDER BY a.scheduled_at, a.id"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _member(key: str, value: object) -> str:
    """One JSON member, spaced as PostgreSQL's json_build_object spaces the stored ones."""
    return orjson.dumps(key).decode() + " : " + orjson.dumps(value).decode()


def page_json_sql(shape: tuple[int | bool, ...], per_page: int, offset: int, locale: str) -> str:
    """The page's items as one JSON array, from the items PostgreSQL keeps rendered
    (`task_list_items`, see integration.models): the same fields and values as `task_item` (a
    test holds the two equal), so the server neither decodes 25 columns per row nor builds and
    encodes the items; it splices the array into the envelope.

    The page's ids are `_page_ids`, as in `page_sql`; what is not stored is
    added here: the members that follow from the lifecycle status in the tenant's locale (one
    literal per status, our own vocabulary), whether a retry may be forced (the tenant's
    configuration), and the commerce, joined by primary key so that a rename rewrites no item.
    """
    labels = ITEM_LABELS.get(locale, ITEM_LABELS["es"])
    by_lifecycle = " ".join(
        f"WHEN {_literal(lc)} THEN "
        + _literal(
            ", ".join(
                (
                    _member("status", status),
                    _member("lifecycleStatusLabel", label),
                    _member("resultStatus", result_status),
                )
            )
        )
        for lc, (status, label, result_status) in labels.items()
    )
    retry = force_retry_sql("i.tenant_id", "i.channel")
    item = (
        f"'{{' || CASE i.lifecycle_status {by_lifecycle} END"
        f" || ', \"canForceRetryDispatch\" : '"
        f" || CASE WHEN i.retry_candidate AND {retry} THEN 'true' ELSE 'false' END"
        " || ', \"commerceExternalId\" : ' || coalesce(to_json(c.external_id)::text, 'null')"
        " || ', \"commerceName\" : ' || coalesce(to_json(c.name)::text, 'null')"
        " || ', \"commerceId\" : \"' || c.id::text || '\", ' || i.body || '}'"
    )
    return (
        f"SELECT '[' || coalesce(string_agg({item}, ','"
        " ORDER BY i.scheduled_at, i.activity_id), '') || ']'"
        f" FROM {_page_ids(shape, per_page, offset)}"
        " JOIN task_list_items i ON i.activity_id = page.id"
        " JOIN commerce_assignments ca ON ca.activity_id = page.id"
        " JOIN commerces c ON c.id = ca.commerce_id"
    )


@functools.lru_cache(maxsize=64)
def _count_statement(shape: tuple[int | bool, ...]) -> TextClause:
    return _typed(count_sql(shape))


@functools.lru_cache(maxsize=1024)
def _page_json_statement(
    shape: tuple[int | bool, ...], per_page: int, offset: int, locale: str
) -> TextClause:
    return _typed(page_json_sql(shape, per_page, offset, locale))


@functools.lru_cache(maxsize=1024)
def _page_statement(shape: tuple[int | bool, ...], per_page: int, offset: int) -> TextualSelect:
    return _typed(page_sql(shape, per_page, offset)).columns(
        id=Uuid,
        final_result_id=Uuid,
        current_result_id=Uuid,
        scheduled_at=UTCDateTime,
        created_at=UTCDateTime,
        updated_at=UTCDateTime,
        suggested_execution_time=UTCDateTime,
        commerce_id=Uuid,
        occurred_at=UTCDateTime,
    )


def task_params(tenant_id: uuid.UUID, f: TaskFilters) -> dict[str, Any]:
    """The bound values of `count_sql`/`page_sql` for these filters."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "type": ActivityType.TASK.value}
    for i, s in enumerate(f.statuses or ()):
        params[f"phase_{i}"] = PHASE_OF_STATUS[s].value
    if f.result_status:
        params["lifecycle_status"] = LIFECYCLE_OF_RESULT_STATUS[f.result_status].value
    if f.channel:
        params["channel"] = f.channel
    if f.scheduled_from:
        params["scheduled_from"] = f.scheduled_from
    if f.scheduled_to:
        params["scheduled_to"] = f.scheduled_to
    if f.updated_since:
        params["updated_since"] = f.updated_since
    if f.external_commerce_id is not None:
        params["external_commerce_id"] = f.external_commerce_id
    if f.external_operator_id is not None:
        params["external_operator_id"] = f.external_operator_id
    return params


async def count_tasks(db: Database, tenant_id: uuid.UUID, f: TaskFilters) -> tuple[int, bool]:
    """Exact count up to COUNT_CAP; above it the capped value and an estimate flag.

    Served from the per-process totals cache (kit.counts) when this process counted the same
    filters for the tenant in the last seconds and has not changed the tenant since.
    """

    async def compute() -> tuple[int, bool]:
        async with db.reader() as conn:
            result = await conn.execute(_count_statement(f.shape()), task_params(tenant_id, f))
            total = int(result.scalar_one())
        if total > COUNT_CAP:
            return COUNT_CAP, True
        return total, False

    return await totals.get(tenant_id, ("integration.tasks", f), compute)


async def list_tasks(
    db: Database, tenant_id: uuid.UUID, f: TaskFilters, page: PageParams, locale: str
) -> bytes:
    """The page's items as an encoded JSON array: rendered by PostgreSQL (`page_json_sql`), or
    built here on SQLite."""
    if db.dialect != "postgresql":
        return orjson.dumps(await list_task_items(db, tenant_id, f, page, locale))
    stmt = _page_json_statement(f.shape(), page.per_page, page.offset, locale)
    async with db.reader() as conn:
        rendered = (await conn.execute(stmt, task_params(tenant_id, f))).scalar_one()
    return str(rendered).encode()


async def list_task_items(
    db: Database, tenant_id: uuid.UUID, f: TaskFilters, page: PageParams, locale: str
) -> list[dict[str, Any]]:
    """The page's items built in Python from `page_sql`'s rows."""
    stmt = _page_statement(f.shape(), page.per_page, page.offset)
    async with db.reader() as conn:
        rows: list[Any] = list((await conn.execute(stmt, task_params(tenant_id, f))).all())
        # Columns 2-5 (page_sql): channel, status, final_result_id, current_result_id; 6 is the
        # lifecycle status.
        states = [
            (state_of_columns(r[3], r[4] is not None, r[6], r[5] is not None), r[2]) for r in rows
        ]
        retry = await force_retry_flags(conn, tenant_id, states)
    labels = ITEM_LABELS.get(locale, ITEM_LABELS["es"])
    return [task_item(row, labels, can) for row, can in zip(rows, retry, strict=True)]


# What an item shows that depends only on the lifecycle status (and the locale), looked up once
# per item instead of derived through four enums and three tables.
ITEM_LABELS: dict[str, dict[str, tuple[str, str, str | None]]] = {
    locale: {
        lc.value: (status_of(lc).value, label_of(lc, locale), result_status_of(lc))
        for lc in LifecycleStatus
    }
    for locale in LABELS
}


def task_item(
    row: Any, labels: dict[str, tuple[str, str, str | None]], can_force_retry_dispatch: bool
) -> dict[str, Any]:
    # Unpacked by position, in page_sql's column order: a Row's attribute lookup by name costs
    # more than building the whole item.
    (
        id_, type_, channel, _status, _final, _current, lifecycle, detail, scheduled_at,
        created_at, updated_at, reason, score, suggested, provider_activity_id,
        commerce_id, commerce_external_id, commerce_name,
        operator_external_id, operator_first_name, operator_last_name,
        route_external_id, route_name, occurred_at, result_code,
    ) = row  # fmt: skip
    status, label, result_status = labels[lifecycle]
    return {
        "id": str(id_),
        "activityOrigin": "ACTIVITY",
        "type": type_,
        "status": status,
        "channel": channel,
        "scheduledAt": iso(scheduled_at),
        "occurredAt": iso(occurred_at),
        "createdAt": iso(created_at),
        "updatedAt": iso(updated_at),
        "lifecycleStatus": lifecycle,
        "lifecycleStatusLabel": label,
        "lifecycleStatusDetail": detail,
        "canForceRetryDispatch": can_force_retry_dispatch,
        "commerceExternalId": commerce_external_id,
        "commerceName": commerce_name,
        "commerceId": str(commerce_id),
        "operatorExternalId": operator_external_id,
        "operatorName": join_name(operator_first_name, operator_last_name),
        "routeExternalId": route_external_id,
        "routeName": route_name,
        "reason": {"code": reason, "label": reason},
        "score": score,
        "suggestedExecutionTime": iso(suggested),
        "resultStatus": result_status,
        "resultCode": result_code,
        "providerActivityId": provider_activity_id,
    }


def render_result(submitted: SubmittedResult) -> dict[str, Any]:
    """The 201 body of POST /api/integration/activity-results/tasks."""
    r = submitted.result
    lifecycle = submitted.lifecycle_status
    return {
        "id": str(r.id),
        "activityId": str(r.activity_id) if r.activity_id else None,
        "source": r.source,
        "status": RESULT_STATUS_OUT[ResultStatus(r.status)],
        "externalStatus": r.external_status,
        "occurredAt": iso(r.occurred_at),
        "createdAt": iso(r.created_at),
        "activityStatus": submitted.activity.status if submitted.activity else None,
        "lifecycleStatus": lifecycle.value if lifecycle else None,
        "superseded": r.superseded_by_id is not None,
        "taskResult": {
            "result": r.result_code,
            "resultLabel": submitted.result_type.label,
            "comment": r.comment,
            "contactType": r.contact_type,
            "operatorExternalId": r.operator_external_id,
            "futureScheduledAt": iso(r.future_scheduled_at),
            "payload": r.payload,
        },
    }
