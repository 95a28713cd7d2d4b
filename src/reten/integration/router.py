"""The integration API (pull): three endpoints, API key only (integration-api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Channel
from reten.activity_config import service as activity_config
from reten.auth.dependencies import integration_key
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.integration import service
from reten.integration.schemas import (
    IntegrationResultCreate,
    ResultRead,
    ResultTypeConfigRead,
    TaskPage,
)
from reten.integration.vocabulary import (
    RESULT_STATUS_IN,
    IntegrationResultStatus,
    IntegrationStatus,
)
from reten.kit.errors import ValidationFailed
from reten.kit.idempotency import validate_key
from reten.kit.jsonbody import parse_object, spelled, validate_body
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope_json, parse_page_params
from reten.kit.params import (
    AS_TIMESTAMP,
    as_comma_list,
    as_one_of,
    parse_enum,
    parse_enum_list,
    parse_timestamp,
)
from reten.kit.responses import etag_encoded_response, etag_json_response, json_response
from reten.kit.schemas import openapi_body
from reten.results import service as results
from reten.results.schemas import FREEFORM_KEYS
from reten.results.service import RESULT_FIELD_NAMES, ResultSubmission
from reten.runtime import DbSession, get_runtime

router = APIRouter(prefix="/api/integration", tags=["Integration"])

DEFAULT_PER_PAGE = 20


@router.get(
    "/task-result-type-configs",
    response_model=list[ResultTypeConfigRead],
    summary="Active task result types (verifies the API key)",
)
async def task_result_type_configs(
    request: Request,
    principal: Principal = Depends(integration_key(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    types = await activity_config.list_types(session, principal.require_tenant(), is_active=True)
    body = [
        {
            "code": t.code,
            "label": t.label,
            "requiresFutureScheduledAt": t.requires_future_scheduled_at,
        }
        for t in types
    ]
    return etag_json_response(request, body)


@router.get("/activities/tasks", response_model=TaskPage, summary="List task activities")
async def list_tasks(
    request: Request,
    principal: Principal = Depends(integration_key(Permission.VIEW_ACTIVITIES)),
    page: Annotated[str | None, Query(description="≥ 1, default 1"), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(description="1-100, default 20"), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(description="alias of per_page"), AS_PER_PAGE] = None,
    status: Annotated[
        str | None,
        Query(description="PENDING, IN_PROGRESS, COMPLETED, CANCELLED; comma-separated"),
        as_comma_list([s.value for s in IntegrationStatus]),
    ] = None,
    result_status: Annotated[
        str | None,
        Query(description="EFFECTIVE, NOT_EFFECTIVE, PENDING"),
        as_one_of([s.value for s in IntegrationResultStatus]),
    ] = None,
    channel: Annotated[str | None, Query(), as_one_of([c.value for c in Channel])] = None,
    external_commerce_id: str | None = Query(default=None),
    external_operator_id: str | None = Query(default=None),
    scheduled_from: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    scheduled_to: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    updated_since: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
) -> Response:
    # No request session: the list reads outside any transaction (Database.reader).
    db = get_runtime(request).db
    params = parse_page_params(page, per_page, limit, default_per_page=DEFAULT_PER_PAGE)
    statuses = parse_enum_list("status", status, [s.value for s in IntegrationStatus])
    result_status_value = parse_enum(
        "result_status", result_status, [s.value for s in IntegrationResultStatus]
    )
    filters = service.TaskFilters(
        statuses=tuple(IntegrationStatus(s) for s in statuses) if statuses else None,
        result_status=IntegrationResultStatus(result_status_value) if result_status_value else None,
        channel=parse_enum("channel", channel, [c.value for c in Channel]),
        external_commerce_id=external_commerce_id,
        external_operator_id=external_operator_id,
        scheduled_from=parse_timestamp("scheduled_from", scheduled_from),
        scheduled_to=parse_timestamp("scheduled_to", scheduled_to),
        updated_since=parse_timestamp("updated_since", updated_since),
    )
    tenant_id = principal.require_tenant()
    total, estimate = await service.count_tasks(db, tenant_id, filters)
    items = (
        await service.list_tasks(db, tenant_id, filters, params, principal.tenant_locale)
        if params.offset < total or estimate
        else b"[]"
    )
    body = page_envelope_json(items, params, total, estimate=estimate)
    return etag_encoded_response(request, body)


@router.post(
    "/activity-results/tasks",
    status_code=201,
    response_model=ResultRead,
    summary="Submit the result of a task activity",
    openapi_extra=openapi_body(IntegrationResultCreate),
)
async def submit_result(
    request: Request,
    principal: Principal = Depends(integration_key(Permission.SUBMIT_ACTIVITY_RESULT)),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    key = validate_key(idempotency_key)
    raw = parse_object(await request.body())
    data = validate_body(IntegrationResultCreate, raw, FREEFORM_KEYS)
    if data.activity_id is None and data.provider_activity_id is None:
        raise ValidationFailed.one("activity_id", "activity_id or provider_activity_id is required")
    names = spelled(raw, RESULT_FIELD_NAMES, FREEFORM_KEYS)
    submission = ResultSubmission.of(data, RESULT_STATUS_IN[data.status], names)
    outcome = await results.submit(
        get_runtime(request).db,
        principal.require_tenant(),
        principal.actor(),
        submission,
        service.render_result,
        idempotency_key=key,
        request_body=raw,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return json_response(outcome.body, outcome.status_code, headers)
