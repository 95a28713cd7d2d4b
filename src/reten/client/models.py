"""Typed responses of the Reten API.

The API speaks camelCase; these models expose snake_case attributes (`task.commerce_name`) and
keep the API's names as aliases, so `model_dump(by_alias=True)` gives back the wire shape.
Unknown fields are kept (in `model_extra`) rather than refused: the API may add fields, and an
integration built on this SDK must not break when it does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class CodeLabel(Model):
    code: str
    label: str


class ResultType(Model):
    """An active task result type: the `code` to send as `result` in `results.submit`."""

    code: str
    label: str
    requires_future_scheduled_at: bool


class Task(Model):
    """A task activity in the integration vocabulary (GET /api/integration/activities/tasks)."""

    id: str
    activity_origin: str
    type: str
    status: str
    channel: str
    scheduled_at: datetime
    occurred_at: datetime | None
    created_at: datetime
    updated_at: datetime
    lifecycle_status: str
    lifecycle_status_label: str
    lifecycle_status_detail: str | None
    can_force_retry_dispatch: bool
    commerce_external_id: str
    commerce_name: str
    commerce_id: str
    operator_external_id: str | None
    operator_name: str | None
    route_external_id: str | None
    route_name: str | None
    reason: CodeLabel
    score: int | None
    suggested_execution_time: datetime | None
    result_status: str | None
    result_code: str | None
    provider_activity_id: str | None


class PageMeta(Model):
    page: int
    limit: int
    total: int
    total_pages: int
    total_is_estimate: bool | None = None


class TaskResult(Model):
    result: str
    result_label: str
    comment: str | None
    contact_type: str | None
    operator_external_id: str | None
    future_scheduled_at: datetime | None
    payload: dict[str, Any] | None


class SubmittedResult(Model):
    """The 201 body of a result submission."""

    id: str
    activity_id: str | None
    source: str
    status: str
    external_status: str | None
    occurred_at: datetime
    created_at: datetime
    activity_status: str | None
    lifecycle_status: str | None
    superseded: bool
    task_result: TaskResult


class SyncResult(Model):
    """The answer of the commerces, operators and routes sync endpoints."""

    created: int
    updated: int
    total: int


class Actor(Model):
    type: str
    id: str | None
    label: str | None


class CommerceRef(Model):
    id: str
    name: str
    external_id: str


class CommerceAssignment(Model):
    commerce_id: str
    assignment_reason: str | None
    commerce: CommerceRef


class NamedRef(Model):
    id: str
    name: str | None
    external_id: str | None


class OperatorRef(NamedRef):
    type: str


class TaskDetails(Model):
    route_id: str
    operator_id: str
    route: NamedRef
    operator: OperatorRef


class DispatchState(Model):
    attempt_count: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    provider_activity_id: str | None
    dispatched_at: datetime | None
    dispatch_config_id: str | None
    can_force_retry_dispatch: bool


class StatusEvent(Model):
    from_status: str | None
    to_status: str
    event: str
    detail: str | None
    created_at: datetime
    actor: Actor


class ActivityResult(Model):
    """A result in the management vocabulary (internal statuses)."""

    id: str
    activity_id: str | None
    provider_activity_id: str | None
    commerce_id: str
    commerce_external_id: str
    source: str
    status: str
    external_status: str | None
    hard_override: bool
    activity_status: str | None
    occurred_at: datetime
    created_at: datetime
    superseded: bool
    superseded_by: str | None
    created_by: Actor
    task_result: dict[str, Any]
    raw_payload: dict[str, Any] | None


class Activity(Model):
    """An activity with its dispatch state, results and status events (management API)."""

    id: str
    type: str
    channel: str
    status: str
    reason: CodeLabel
    user_status: CodeLabel | None
    score: int | None
    scheduled_at: datetime
    suggested_execution_time: datetime | None
    idempotency_key: str
    created_at: datetime
    updated_at: datetime
    commerce_assignment: CommerceAssignment
    task_details: TaskDetails | None
    dispatch: DispatchState
    results: list[ActivityResult]
    status_events: list[StatusEvent]


class BatchItem(Model):
    """One item of a batch create: CREATED, DUPLICATE (its idempotency key exists) or ERROR."""

    index: int
    status: str
    activity_id: str | None
    error: dict[str, Any] | None


class BatchResult(Model):
    created: int
    duplicates: int
    errors: int
    results: list[BatchItem]


__all__ = [
    "Activity",
    "ActivityResult",
    "BatchItem",
    "BatchResult",
    "CodeLabel",
    "Model",
    "PageMeta",
    "ResultType",
    "StatusEvent",
    "SubmittedResult",
    "SyncResult",
    "Task",
    "TaskResult",
]
