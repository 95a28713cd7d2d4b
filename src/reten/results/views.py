"""Read model of results (management-api.md §3 ActivityResult): the rows and their rendering,
shared by the results endpoints and the activity detail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from reten.activity_config.models import TaskResultType
from reten.commerces.models import Commerce
from reten.kit.actor import actor_json
from reten.kit.db import TenantRepository
from reten.kit.listing import AnySelect
from reten.kit.time import iso
from reten.results.models import ActivityResult


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
