"""What each SDK method sends: pure functions shared by the sync and async clients."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Required, TypedDict

TASKS_PATH = "/api/integration/activities/tasks"
RESULTS_PATH = "/api/integration/activity-results/tasks"
RESULT_TYPES_PATH = "/api/integration/task-result-type-configs"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: Any = None
    # Sent as Idempotency-Key and reused by every retry of this call.
    idempotency_key: str | None = None
    # A POST whose repetition writes nothing new (a sync matches on keys; an activity carries
    # its own idempotency_key), so it may be retried without an Idempotency-Key header.
    repeatable: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


class TaskFilters(TypedDict, total=False):
    status: str | Sequence[str]
    result_status: str
    channel: str
    external_commerce_id: str
    external_operator_id: str
    scheduled_from: datetime | str
    scheduled_to: datetime | str
    updated_since: datetime | str


class ListParams(TaskFilters, total=False):
    page: int
    per_page: int


class SubmitParams(TypedDict, total=False):
    activity_id: str
    provider_activity_id: str
    commerce_external_id: Required[str]
    status: Required[str]
    result: Required[str]
    comment: str | None
    operator_external_id: str | None
    contact_type: str | None
    future_scheduled_at: datetime | str | None
    occurred_at: datetime | str
    external_status: str | None
    hard_override: bool
    payload: dict[str, Any] | None
    raw_payload: dict[str, Any] | None
    idempotency_key: str


def timestamp(value: datetime | date | str) -> str:
    """An ISO 8601 instant with an offset, as the API requires."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to Reten must be timezone-aware (e.g. tz=UTC)")
        return value.isoformat()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()


def jsonable(value: Any) -> Any:
    """Request bodies may carry datetimes (and models); the API wants ISO strings."""
    if isinstance(value, datetime | date):
        return timestamp(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(exclude_none=True))
    return value


def task_query(params: Mapping[str, Any]) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name == "status" and not isinstance(value, str):
            query[name] = ",".join(value)
        elif isinstance(value, datetime | date):
            query[name] = timestamp(value)
        else:
            query[name] = str(value)
    return query


_TASK_RESULT_FIELDS = (
    "result",
    "comment",
    "operator_external_id",
    "contact_type",
    "future_scheduled_at",
    "payload",
)


def submit_call(params: Mapping[str, Any]) -> Call:
    values = dict(params)
    key = values.pop("idempotency_key", None) or f"reten-py-{uuid.uuid4()}"
    if not values.get("activity_id") and not values.get("provider_activity_id"):
        raise ValueError("results.submit needs activity_id or provider_activity_id")
    task_result = {
        name: values.pop(name) for name in _TASK_RESULT_FIELDS if values.get(name) is not None
    }
    for name in _TASK_RESULT_FIELDS:
        values.pop(name, None)
    body = {k: v for k, v in values.items() if v is not None}
    body.setdefault("occurred_at", datetime.now(UTC))
    body["task_result"] = task_result
    return Call("POST", RESULTS_PATH, body=jsonable(body), idempotency_key=key)


def sync_call(path: str, items: Sequence[Mapping[str, Any]]) -> Call:
    return Call("POST", path, body={"items": jsonable(list(items))}, repeatable=True)
