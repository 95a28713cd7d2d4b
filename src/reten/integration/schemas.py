"""Bodies and responses of the integration API, in its own vocabulary (integration-api.md)."""

from __future__ import annotations

import uuid
from typing import Any

from reten.activities.lifecycle import LifecycleStatus
from reten.integration.vocabulary import IntegrationResultStatus, IntegrationStatus
from reten.kit.pagination import Page
from reten.kit.schemas import ReadModel
from reten.results.schemas import ResultBody


class IntegrationResultCreate(ResultBody[IntegrationResultStatus]):
    """POST /api/integration/activity-results/tasks, in the integration vocabulary."""


class ResultTypeConfigRead(ReadModel):
    code: str
    label: str
    requires_future_scheduled_at: bool


class CodeLabel(ReadModel):
    code: str
    label: str


class TaskItemRead(ReadModel):
    """One item of GET /api/integration/activities/tasks (for the OpenAPI document)."""

    id: uuid.UUID
    activity_origin: str = "ACTIVITY"
    type: str
    status: IntegrationStatus
    channel: str
    scheduled_at: str
    occurred_at: str | None
    created_at: str
    updated_at: str
    lifecycle_status: LifecycleStatus
    lifecycle_status_label: str
    lifecycle_status_detail: str | None
    can_force_retry_dispatch: bool
    commerce_external_id: str
    commerce_name: str
    commerce_id: uuid.UUID
    operator_external_id: str | None
    operator_name: str | None
    route_external_id: str | None
    route_name: str | None
    reason: CodeLabel
    score: int | None
    suggested_execution_time: str | None
    result_status: str | None
    result_code: str | None
    provider_activity_id: str | None


class TaskPage(Page[TaskItemRead]):
    """GET /api/integration/activities/tasks."""


class TaskResultRead(ReadModel):
    result: str
    result_label: str
    comment: str | None
    contact_type: str | None
    operator_external_id: str | None
    future_scheduled_at: str | None
    payload: dict[str, Any] | None


class ResultRead(ReadModel):
    id: uuid.UUID
    activity_id: uuid.UUID | None
    source: str
    status: str
    external_status: str | None
    occurred_at: str
    created_at: str
    activity_status: str | None
    lifecycle_status: str | None
    superseded: bool
    task_result: TaskResultRead
