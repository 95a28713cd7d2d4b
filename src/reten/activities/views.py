"""Read models of activities for the management API (management-api.md §3 Activity,
ActivityDetail, ActivityResult): built from plain rows with a constant number of queries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import (
    Activity,
    ActivityStatusEvent,
    CommerceAssignment,
    TaskDetails,
)
from reten.activity_config.models import TaskResultType
from reten.commerces.models import Commerce
from reten.dispatch.service import active_config
from reten.kit.actor import actor_json
from reten.kit.db import TenantRepository
from reten.kit.time import iso
from reten.kit.validators import join_name
from reten.operators.models import Operator
from reten.results.models import ActivityResult
from reten.routes.models import Route

# A SELECT of any columns (Select is variadic over its column types).
AnySelect = Select[*tuple[Any, ...]]


def activity_rows(repo: TenantRepository) -> AnySelect:
    """Activities with their commerce, route and operator, scoped to the tenant."""
    return repo.where(
        Activity,
        select(
            Activity,
            CommerceAssignment.commerce_id,
            CommerceAssignment.assignment_reason,
            Commerce.name.label("commerce_name"),
            Commerce.external_id.label("commerce_external_id"),
            TaskDetails.route_id,
            TaskDetails.operator_id,
            Route.name.label("route_name"),
            Route.external_id.label("route_external_id"),
            Operator.first_name.label("operator_first_name"),
            Operator.last_name.label("operator_last_name"),
            Operator.external_id.label("operator_external_id"),
            Operator.type.label("operator_type"),
        )
        .join(CommerceAssignment, CommerceAssignment.activity_id == Activity.id)
        .join(Commerce, Commerce.id == CommerceAssignment.commerce_id)
        .outerjoin(TaskDetails, TaskDetails.activity_id == Activity.id)
        .outerjoin(Route, Route.id == TaskDetails.route_id)
        .outerjoin(Operator, Operator.id == TaskDetails.operator_id),
    )


def code_label(code: str | None) -> dict[str, str] | None:
    # No label catalogs exist yet (management-api.md §15.1): the label is the code.
    return None if code is None else {"code": code, "label": code}


def activity_item(row: Any) -> dict[str, Any]:
    a: Activity = row.Activity
    task = None
    if row.route_id is not None:
        task = {
            "routeId": str(row.route_id),
            "operatorId": str(row.operator_id),
            "route": {
                "id": str(row.route_id),
                "name": row.route_name,
                "externalId": row.route_external_id,
            },
            "operator": {
                "id": str(row.operator_id),
                "name": join_name(row.operator_first_name, row.operator_last_name),
                "externalId": row.operator_external_id,
                "type": row.operator_type,
            },
        }
    return {
        "id": str(a.id),
        "type": a.type,
        "channel": a.channel,
        "status": a.status,
        "reason": code_label(a.reason),
        "userStatus": code_label(a.user_status),
        "score": a.score,
        "scheduledAt": iso(a.scheduled_at),
        "suggestedExecutionTime": iso(a.suggested_execution_time),
        "idempotencyKey": a.idempotency_key,
        "createdAt": iso(a.created_at),
        "updatedAt": iso(a.updated_at),
        "commerceAssignment": {
            "commerceId": str(row.commerce_id),
            "assignmentReason": row.assignment_reason,
            "commerce": {
                "id": str(row.commerce_id),
                "name": row.commerce_name,
                "externalId": row.commerce_external_id,
            },
        },
        "taskDetails": task,
    }


def result_rows(repo: TenantRepository) -> AnySelect:
    """Results with their commerce's external id and the current label of their type."""
    return repo.where(
        ActivityResult,
        select(
            ActivityResult,
            Commerce.external_id.label("commerce_external_id"),
            TaskResultType.label.label("result_label"),
        )
        .join(Commerce, Commerce.id == ActivityResult.commerce_id)
        .outerjoin(
            TaskResultType,
            (TaskResultType.tenant_id == ActivityResult.tenant_id)
            & (TaskResultType.code == ActivityResult.result_code),
        ),
    )


def result_item(row: Any) -> dict[str, Any]:
    r: ActivityResult = row.ActivityResult
    return {
        "id": str(r.id),
        "activityId": str(r.activity_id) if r.activity_id else None,
        "providerActivityId": r.provider_activity_id,
        "commerceId": str(r.commerce_id),
        "commerceExternalId": row.commerce_external_id,
        "source": r.source,
        "status": r.status,
        "externalStatus": r.external_status,
        "hardOverride": r.hard_override,
        "activityStatus": r.activity_status,
        "occurredAt": iso(r.occurred_at),
        "createdAt": iso(r.created_at),
        "superseded": r.superseded_by_id is not None,
        "supersededBy": str(r.superseded_by_id) if r.superseded_by_id else None,
        "createdBy": actor_json(r.created_by_type, r.created_by_id, r.created_by_label),
        "taskResult": {
            "result": r.result_code,
            "resultLabel": row.result_label or r.result_code,
            "comment": r.comment,
            "contactType": r.contact_type,
            "operatorExternalId": r.operator_external_id,
            "operatorId": str(r.operator_id) if r.operator_id else None,
            "futureScheduledAt": iso(r.future_scheduled_at),
            "payload": r.payload,
        },
        "rawPayload": r.raw_payload,
    }


async def activity_detail(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> dict[str, Any] | None:
    """ActivityDetail: the activity, its dispatch state, results (newest first) and events."""
    repo = TenantRepository(session, tenant_id)
    row = (await session.execute(activity_rows(repo).where(Activity.id == activity_id))).first()
    if row is None:
        return None
    a: Activity = row.Activity
    results = (
        await session.execute(
            result_rows(repo)
            .where(ActivityResult.activity_id == activity_id)
            .order_by(ActivityResult.created_at.desc(), ActivityResult.id.desc())
        )
    ).all()
    events = (
        await session.execute(
            repo.select(ActivityStatusEvent)
            .where(ActivityStatusEvent.activity_id == activity_id)
            .order_by(ActivityStatusEvent.created_at, ActivityStatusEvent.id)
        )
    ).scalars()
    detail = activity_item(row)
    detail["dispatch"] = {
        "attemptCount": a.attempt_count,
        "lastAttemptAt": iso(a.last_attempt_at),
        "nextAttemptAt": iso(a.next_attempt_at) if a.status == "READY" else None,
        "lastError": a.last_error,
        "providerActivityId": a.provider_activity_id,
        "dispatchedAt": iso(a.dispatched_at),
        "dispatchConfigId": str(a.dispatch_config_id) if a.dispatch_config_id else None,
        "canForceRetryDispatch": await _can_force_retry_dispatch(session, a),
    }
    detail["results"] = [result_item(r) for r in results]
    detail["statusEvents"] = [
        {
            "fromStatus": e.from_status,
            "toStatus": e.to_status,
            "event": e.event,
            "detail": e.detail,
            "createdAt": iso(e.created_at),
            "actor": actor_json(e.actor_type, e.actor_id, e.actor_label),
        }
        for e in events
    ]
    return detail


async def _can_force_retry_dispatch(session: AsyncSession, a: Activity) -> bool:
    """11.13's precondition: FAILED by dispatch, no result at all, and an active config."""
    if a.status != "FAILED" or a.final_result_id is not None or a.current_result_id is not None:
        return False
    return await active_config(session, a.tenant_id, a.channel) is not None
