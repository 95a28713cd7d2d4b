"""Bodies of POST /api/activity-results/tasks (management vocabulary, management-api.md §12.2)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

import orjson
from pydantic import AfterValidator, StringConstraints, ValidationError

from reten.activities.lifecycle import ResultStatus
from reten.kit.errors import BadRequest, ValidationFailed
from reten.kit.jsonbody import NUL_MESSAGE, humanise, nul_paths, validate_body
from reten.kit.schemas import Bool, InputModel, Timestamp
from reten.results.models import ContactDirection

MAX_PAYLOAD_BYTES = 64 * 1024


def _small_object(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(orjson.dumps(value)) > MAX_PAYLOAD_BYTES:
        raise ValueError("must be at most 64 KiB once serialised")
    return value


SmallObject = Annotated[dict[str, Any] | None, AfterValidator(_small_object)]
Str255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class TaskResultInput(InputModel):
    result: Str255
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    contact_type: ContactDirection | None = None
    operator_external_id: Str255 | None = None
    future_scheduled_at: Timestamp | None = None
    payload: SmallObject = None


StatusT = TypeVar("StatusT", bound=StrEnum)


class ResultBody(InputModel, Generic[StatusT]):
    """A task result body. Both APIs take the same fields; only the `status` vocabulary differs
    (integration/vocabulary.py translates the integration one)."""

    activity_id: uuid.UUID | None = None
    provider_activity_id: Str255 | None = None
    commerce_external_id: Str255
    occurred_at: Timestamp
    status: StatusT
    external_status: Str255 | None = None
    hard_override: Bool = False
    raw_payload: SmallObject = None
    task_result: TaskResultInput


class ResultCreate(ResultBody[ResultStatus]):
    """POST /api/activity-results/tasks, in the management vocabulary."""


# The caller's own data: stored verbatim, never re-cased.
FREEFORM_KEYS = frozenset({"raw_payload", "payload"})

# The flat camelCase form still sent by older integrations -> the canonical path.
FLAT_FIELDS: dict[str, tuple[str, ...]] = {
    "activityId": ("activity_id",),
    "providerActivityId": ("provider_activity_id",),
    "commerceExternalId": ("commerce_external_id",),
    "status": ("status",),
    "resultTypeCode": ("task_result", "result"),
    "comment": ("task_result", "comment"),
    "contactDirection": ("task_result", "contact_type"),
    "operatorExternalId": ("task_result", "operator_external_id"),
    "occurredAt": ("occurred_at",),
    "rawPayload": ("raw_payload",),
    "hardOverride": ("hard_override",),
}
FLAT_ONLY = ("resultTypeCode", "comment", "contactDirection", "operatorExternalId")


def parse_result_body(raw: dict[str, Any]) -> tuple[ResultCreate, dict[str, str]]:
    """The body in either form, and the caller's name for each canonical field."""
    has_nested = "task_result" in raw or "taskResult" in raw
    if has_nested:
        if any(name in raw for name in FLAT_ONLY):
            raise BadRequest("Send either task_result or the flat fields")
        data = validate_body(ResultCreate, raw, FREEFORM_KEYS)
        return data, {}
    canonical: dict[str, Any] = {"task_result": {}}
    names: dict[str, str] = {"task_result": "resultTypeCode"}
    for flat, path in FLAT_FIELDS.items():
        if flat not in raw:
            names[".".join(path)] = flat
            continue
        target = canonical if len(path) == 1 else canonical["task_result"]
        target[path[-1]] = raw[flat]
        names[".".join(path)] = flat
    problems = [{"field": p, "message": NUL_MESSAGE} for p in nul_paths(raw)]
    if problems:
        raise ValidationFailed(problems)
    try:
        return ResultCreate.model_validate(canonical), names
    except ValidationError as exc:
        details = [
            {"field": names.get(path, path), "message": humanise(err)}
            for err in exc.errors(include_url=False)
            for path in [".".join(str(p) for p in err["loc"])]
        ]
        raise ValidationFailed(details) from None
