"""Reads of the integration API: the task list, in the integration vocabulary."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import LifecycleStatus, ResultStatus
from reten.activities.models import Activity, ActivityType, CommerceAssignment, TaskDetails
from reten.activities.service import state_of
from reten.commerces.models import Commerce
from reten.dispatch.service import force_retry_flags
from reten.integration.vocabulary import (
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
from reten.kit.db import TenantRepository
from reten.kit.pagination import COUNT_CAP, PageParams
from reten.kit.time import iso
from reten.kit.validators import join_name
from reten.operators.models import Operator
from reten.results.models import ActivityResult
from reten.results.service import SubmittedResult
from reten.routes.models import Route


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


def _filtered(repo: TenantRepository, stmt: Select[Any], f: TaskFilters) -> Select[Any]:
    stmt = repo.where(Activity, stmt).where(Activity.type == ActivityType.TASK.value)
    if f.statuses:
        phases = [PHASE_OF_STATUS[s].value for s in f.statuses]
        stmt = stmt.where(
            Activity.phase == phases[0] if len(phases) == 1 else Activity.phase.in_(phases)
        )
    if f.result_status:
        stmt = stmt.where(
            Activity.lifecycle_status == LIFECYCLE_OF_RESULT_STATUS[f.result_status].value
        )
    if f.channel:
        stmt = stmt.where(Activity.channel == f.channel)
    if f.scheduled_from:
        stmt = stmt.where(Activity.scheduled_at >= f.scheduled_from)
    if f.scheduled_to:
        stmt = stmt.where(Activity.scheduled_at <= f.scheduled_to)
    if f.updated_since:
        stmt = stmt.where(Activity.updated_at >= f.updated_since)
    if f.external_commerce_id is not None:
        commerce_ids = repo.where(Commerce, select(Commerce.id)).where(
            Commerce.external_id == f.external_commerce_id
        )
        assigned = repo.where(CommerceAssignment, select(CommerceAssignment.activity_id)).where(
            CommerceAssignment.commerce_id.in_(commerce_ids.scalar_subquery())
        )
        stmt = stmt.where(Activity.id.in_(assigned.scalar_subquery()))
    if f.external_operator_id is not None:
        operator_ids = repo.where(Operator, select(Operator.id)).where(
            Operator.external_id == f.external_operator_id
        )
        assigned = repo.where(TaskDetails, select(TaskDetails.activity_id)).where(
            TaskDetails.operator_id.in_(operator_ids.scalar_subquery())
        )
        stmt = stmt.where(Activity.id.in_(assigned.scalar_subquery()))
    return stmt


async def count_tasks(
    session: AsyncSession, tenant_id: uuid.UUID, f: TaskFilters
) -> tuple[int, bool]:
    """Exact count up to COUNT_CAP; above it the capped value and an estimate flag.

    Served from the per-process totals cache (kit.counts) when this process counted the same
    filters for the tenant in the last seconds and has not changed the tenant since.
    """

    async def compute() -> tuple[int, bool]:
        repo = TenantRepository(session, tenant_id)
        capped = _filtered(repo, select(Activity.id), f).limit(COUNT_CAP + 1).subquery()
        total = int((await session.execute(select(func.count()).select_from(capped))).scalar_one())
        if total > COUNT_CAP:
            return COUNT_CAP, True
        return total, False

    return await totals.get(tenant_id, ("integration.tasks", f), compute)


async def list_tasks(
    session: AsyncSession, tenant_id: uuid.UUID, f: TaskFilters, page: PageParams, locale: str
) -> list[dict[str, Any]]:
    repo = TenantRepository(session, tenant_id)
    # Page the ids first (an index range scan), then fetch what the items show for those ids.
    ids = (
        _filtered(repo, select(Activity.id), f)
        .order_by(Activity.scheduled_at, Activity.id)
        .limit(page.per_page)
        .offset(page.offset)
        .subquery()
    )
    stmt = (
        select(
            Activity.id,
            Activity.type,
            Activity.channel,
            Activity.status,
            Activity.final_result_id,
            Activity.current_result_id,
            Activity.lifecycle_status,
            Activity.lifecycle_detail,
            Activity.scheduled_at,
            Activity.created_at,
            Activity.updated_at,
            Activity.reason,
            Activity.score,
            Activity.suggested_execution_time,
            Activity.provider_activity_id,
            Commerce.id.label("commerce_id"),
            Commerce.external_id.label("commerce_external_id"),
            Commerce.name.label("commerce_name"),
            Operator.external_id.label("operator_external_id"),
            Operator.first_name.label("operator_first_name"),
            Operator.last_name.label("operator_last_name"),
            Route.external_id.label("route_external_id"),
            Route.name.label("route_name"),
            ActivityResult.occurred_at.label("occurred_at"),
            ActivityResult.result_code.label("result_code"),
        )
        .join(ids, ids.c.id == Activity.id)
        .join(CommerceAssignment, CommerceAssignment.activity_id == Activity.id)
        .join(Commerce, Commerce.id == CommerceAssignment.commerce_id)
        .outerjoin(TaskDetails, TaskDetails.activity_id == Activity.id)
        .outerjoin(Operator, Operator.id == TaskDetails.operator_id)
        .outerjoin(Route, Route.id == TaskDetails.route_id)
        .outerjoin(ActivityResult, ActivityResult.id == Activity.current_result_id)
        .order_by(Activity.scheduled_at, Activity.id)
    )
    # Plain rows, not ORM entities: a page is read-only and entity construction is the bulk of
    # the cost of a 20-row page.
    # Typed loosely: state_of reads the columns it needs by name, from an entity or a row alike.
    rows: list[Any] = list((await session.execute(stmt)).all())
    retry = await force_retry_flags(session, tenant_id, [(state_of(r), r.channel) for r in rows])
    return [_task_item(row, locale, can) for row, can in zip(rows, retry, strict=True)]


def _task_item(r: Any, locale: str, can_force_retry_dispatch: bool) -> dict[str, Any]:
    lifecycle = LifecycleStatus(r.lifecycle_status)
    return {
        "id": str(r.id),
        "activityOrigin": "ACTIVITY",
        "type": r.type,
        "status": status_of(lifecycle).value,
        "channel": r.channel,
        "scheduledAt": iso(r.scheduled_at),
        "occurredAt": iso(r.occurred_at),
        "createdAt": iso(r.created_at),
        "updatedAt": iso(r.updated_at),
        "lifecycleStatus": lifecycle.value,
        "lifecycleStatusLabel": label_of(lifecycle, locale),
        "lifecycleStatusDetail": r.lifecycle_detail,
        "canForceRetryDispatch": can_force_retry_dispatch,
        "commerceExternalId": r.commerce_external_id,
        "commerceName": r.commerce_name,
        "commerceId": str(r.commerce_id),
        "operatorExternalId": r.operator_external_id,
        "operatorName": join_name(r.operator_first_name, r.operator_last_name),
        "routeExternalId": r.route_external_id,
        "routeName": r.route_name,
        "reason": {"code": r.reason, "label": r.reason},
        "score": r.score,
        "suggestedExecutionTime": iso(r.suggested_execution_time),
        "resultStatus": result_status_of(lifecycle),
        "resultCode": r.result_code,
        "providerActivityId": r.provider_activity_id,
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
