"""Read model of activities for the management API (management-api.md §3 Activity): built from
plain rows with a constant number of queries. The ActivityDetail, which adds results and the
dispatch state, is composed above results and dispatch, in `reten.activity_detail`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from reten.activities.models import Activity, CommerceAssignment, TaskDetails
from reten.commerces.models import Commerce
from reten.kit.db import TenantRepository
from reten.kit.listing import AnySelect
from reten.kit.time import iso
from reten.kit.validators import join_name
from reten.operators.models import Operator
from reten.routes.models import Route


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
