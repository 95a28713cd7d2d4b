"""Request bodies of the activities endpoints (management-api.md §11)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from reten.activities.models import ActivityType, Channel
from reten.activity_config.criteria import CriteriaInput, criteria_with_priorities
from reten.kit.schemas import InputModel, Int, Timestamp
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


class CancelInput(InputModel):
    reason: Str500 | None = None


# The caller's own data: never re-cased.
FREEFORM_KEYS = frozenset({"config", "value", "fallback"})
