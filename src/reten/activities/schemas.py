"""Request bodies of the activities endpoints (management-api.md §11)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from reten.activities.models import ActivityType, Channel
from reten.activity_config.criteria import CriteriaInput, criteria_with_priorities
from reten.kit.pagination import Page
from reten.kit.schemas import InputModel, Int, ReadModel, Timestamp
from reten.resolution.schemas import AttributeInput

Str255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Str100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Str500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Int32 = Annotated[Int, Field(ge=-(2**31), le=2**31 - 1)]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a key")
    return values


def _distinct_attribute_keys(items: list[AttributeInput]) -> list[AttributeInput]:
    keys = [i.key for i in items]
    if len(set(keys)) != len(keys):
        raise ValueError("must not repeat a key")
    return items


def _criteria(items: list[CriteriaInput]) -> list[CriteriaInput]:
    return criteria_with_priorities(items)


class ActivityCreate(InputModel):
    type: ActivityType
    reason: Str255
    channel: Channel
    commerce_id: uuid.UUID
    idempotency_key: Str255
    scheduled_at: Timestamp
    suggested_execution_time: Timestamp | None = None
    user_status: Str100 | None = None
    score: Int32 | None = None
    assignment_reason: Str500 | None = None
    assigned_route_id: uuid.UUID | None = None
    assigned_operator_id: uuid.UUID | None = None
    target_criteria: (
        Annotated[
            list[CriteriaInput], Field(min_length=1, max_length=10), AfterValidator(_criteria)
        ]
        | None
    ) = None
    attribute_keys: Annotated[list[str], AfterValidator(_distinct)] | None = None
    attributes: Annotated[list[AttributeInput], AfterValidator(_distinct_attribute_keys)] | None = (
        None
    )


class TaskCreate(ActivityCreate):
    """POST /api/activities/tasks: the type is TASK whether given or not."""

    type: ActivityType = ActivityType.TASK


class BatchCreate(InputModel):
    items: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=1000)]


class ActivityCancel(InputModel):
    reason: Str500 | None = None


# The caller's own data: never re-cased.
FREEFORM_KEYS = frozenset({"config", "value", "fallback"})


# --- responses --------------------------------------------------------------------------------
# The lists and the detail are rendered as dicts by `activities/views.py` (no model per row on
# the hot path); these models declare those shapes in the OpenAPI, and a test holds the two
# together (tests/activities/test_response_models.py).


class CodeLabelRead(ReadModel):
    code: str
    label: str


class ActorRead(ReadModel):
    type: str
    id: uuid.UUID | None
    label: str | None


class RefRead(ReadModel):
    id: uuid.UUID
    name: str | None
    external_id: str | None


class OperatorRefRead(RefRead):
    type: str | None


class CommerceAssignmentRead(ReadModel):
    commerce_id: uuid.UUID
    assignment_reason: str | None
    commerce: RefRead


class TaskDetailsRead(ReadModel):
    route_id: uuid.UUID
    operator_id: uuid.UUID
    route: RefRead
    operator: OperatorRefRead


class ActivityRead(ReadModel):
    id: uuid.UUID
    type: str
    channel: str
    status: str
    reason: CodeLabelRead | None
    user_status: CodeLabelRead | None
    score: int | None
    scheduled_at: str | None
    suggested_execution_time: str | None
    idempotency_key: str | None
    created_at: str
    updated_at: str
    commerce_assignment: CommerceAssignmentRead
    task_details: TaskDetailsRead | None


class ActivityPage(Page[ActivityRead]):
    """GET /api/activities."""


class DispatchStateRead(ReadModel):
    attempt_count: int
    last_attempt_at: str | None
    next_attempt_at: str | None
    last_error: str | None
    provider_activity_id: str | None
    dispatched_at: str | None
    dispatch_config_id: uuid.UUID | None
    can_force_retry_dispatch: bool


class TaskResultDetailRead(ReadModel):
    result: str
    result_label: str
    comment: str | None
    contact_type: str | None
    operator_external_id: str | None
    operator_id: uuid.UUID | None
    future_scheduled_at: str | None
    payload: dict[str, Any] | None


class ActivityResultRead(ReadModel):
    """A task result as the management API shows it (§12)."""

    id: uuid.UUID
    activity_id: uuid.UUID | None
    provider_activity_id: str | None
    commerce_id: uuid.UUID
    commerce_external_id: str
    source: str
    status: str
    external_status: str | None
    hard_override: bool
    activity_status: str | None
    occurred_at: str
    created_at: str
    superseded: bool
    superseded_by: uuid.UUID | None
    created_by: ActorRead | None
    task_result: TaskResultDetailRead
    raw_payload: Any = None


class ActivityResultPage(Page[ActivityResultRead]):
    """GET /api/activity-results."""


class StatusEventRead(ReadModel):
    from_status: str | None
    to_status: str
    event: str
    detail: str | None
    created_at: str
    actor: ActorRead | None


class ActivityDetailRead(ActivityRead):
    dispatch: DispatchStateRead
    results: list[ActivityResultRead]
    status_events: list[StatusEventRead]


class BatchItemRead(ReadModel):
    index: int
    status: str
    activity_id: uuid.UUID | None
    error: dict[str, Any] | None


class BatchCreatedRead(ReadModel):
    created: int
    duplicates: int
    errors: int
    results: list[BatchItemRead]
