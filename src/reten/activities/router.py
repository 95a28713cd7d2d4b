"""Activities, management side (management-api.md §11)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import batch, service
from reten.activities.lifecycle import ActivityStatus
from reten.activities.models import ActivityType, Channel
from reten.activities.schemas import (
    FREEFORM_KEYS,
    ActivityCancel,
    ActivityCreate,
    ActivityDetailRead,
    ActivityPage,
    BatchCreate,
    BatchCreatedRead,
    TaskCreate,
)
from reten.activities.views import activity_item
from reten.activity_detail.service import detail_or_404
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import body_of, parse_object, spelled, validate_body
from reten.kit.listing import parse_search
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_TIMESTAMP,
    AS_UUID,
    as_comma_list,
    as_one_of,
    parse_enum,
    parse_enum_list,
    parse_optional_uuid,
    parse_timestamp,
    parse_uuid,
)
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession

router = APIRouter(prefix="/api/activities", tags=["Activities"])


async def _create(
    request: Request, principal: Principal, session: AsyncSession, model: type[ActivityCreate]
) -> Response:
    raw = parse_object(await request.body())
    body = validate_body(model, raw, FREEFORM_KEYS)
    if body.type != ActivityType.TASK and model is TaskCreate:
        raise ValidationFailed.one(spelled(raw, ["type"])["type"], "must be TASK on this endpoint")
    tenant_id = principal.require_tenant()
    activity = await service.create_activity(
        session, tenant_id, service.input_of(body), principal.actor(), service.resolution_of(body)
    )
    return json_response(await detail_or_404(session, tenant_id, activity.id), 201)


@router.post(
    "",
    status_code=201,
    response_model=ActivityDetailRead,
    summary="Create an activity",
    openapi_extra=openapi_body(ActivityCreate),
)
async def create_activity(
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    session: AsyncSession = DbSession,
) -> Response:
    return await _create(request, principal, session, ActivityCreate)


@router.post(
    "/tasks",
    status_code=201,
    response_model=ActivityDetailRead,
    summary="Create a TASK activity",
    openapi_extra=openapi_body(TaskCreate),
)
async def create_task(
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    session: AsyncSession = DbSession,
) -> Response:
    return await _create(request, principal, session, TaskCreate)


@router.post(
    "/batch",
    response_model=BatchCreatedRead,
    summary="Create up to 1000 activities; valid items are created even when others fail",
    openapi_extra=openapi_body(BatchCreate),
)
async def create_batch(
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    data: BatchCreate = Depends(body_of(BatchCreate, frozenset({"items"}))),
    session: AsyncSession = DbSession,
) -> Response:
    outcome = await batch.create_batch(
        session, principal.require_tenant(), data.items, principal.actor()
    )
    counts = Counter(r.status for r in outcome)
    return json_response(
        {
            "created": counts[batch.ItemStatus.CREATED],
            "duplicates": counts[batch.ItemStatus.DUPLICATE],
            "errors": counts[batch.ItemStatus.ERROR],
            "results": [r.as_json() for r in outcome],
        }
    )


@router.get("", response_model=ActivityPage, summary="List activities (paginated)")
async def list_activities(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    page: Annotated[str | None, Query(), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    status: Annotated[
        str | None,
        Query(description="ActivityStatus values, comma-separated"),
        as_comma_list([s.value for s in ActivityStatus]),
    ] = None,
    type: Annotated[str | None, Query(), as_one_of([t.value for t in ActivityType])] = None,
    channel: Annotated[str | None, Query(), as_one_of([c.value for c in Channel])] = None,
    commerce_id: Annotated[str | None, Query(), AS_UUID] = None,
    operator_id: Annotated[str | None, Query(), AS_UUID] = None,
    route_id: Annotated[str | None, Query(), AS_UUID] = None,
    idempotency_key: str | None = Query(default=None),
    scheduled_from: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    scheduled_to: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    search: str | None = Query(default=None, description="commerce name or external id, reason"),
    sort: str | None = Query(
        default=None, description="scheduled_at, -scheduled_at, created_at, -created_at (default)"
    ),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=25)
    start = parse_timestamp("scheduled_from", scheduled_from)
    end = parse_timestamp("scheduled_to", scheduled_to)
    if start and end and start > end:
        raise ValidationFailed.one("scheduled_from", "must not be after scheduled_to")
    filters = service.ActivityFilters(
        statuses=tuple(parse_enum_list("status", status, [s.value for s in ActivityStatus]) or ()),
        type=parse_enum("type", type, [t.value for t in ActivityType]),
        channel=parse_enum("channel", channel, [c.value for c in Channel]),
        commerce_id=parse_optional_uuid("commerce_id", commerce_id),
        operator_id=parse_optional_uuid("operator_id", operator_id),
        route_id=parse_optional_uuid("route_id", route_id),
        idempotency_key=idempotency_key,
        scheduled_from=start,
        scheduled_to=end,
        search=parse_search(search),
    )
    rows, total, estimate = await service.list_activities(
        session, principal.require_tenant(), filters, sort, params
    )
    return json_response(
        page_envelope([activity_item(r) for r in rows], params, total, estimate=estimate)
    )


@router.get(
    "/{id}",
    response_model=ActivityDetailRead,
    summary="One activity with its results, events and dispatch state",
)
async def get_activity(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    detail = await detail_or_404(session, principal.require_tenant(), parse_uuid("id", id))
    return json_response(detail)


@router.patch(
    "/{id}/cancel",
    response_model=ActivityDetailRead,
    summary="Cancel an activity",
    openapi_extra=openapi_body(ActivityCancel),
)
async def cancel_activity(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.CANCEL_ACTIVITY)),
    data: ActivityCancel = Depends(body_of(ActivityCancel)),
    session: AsyncSession = DbSession,
) -> Response:
    tenant_id = principal.require_tenant()
    activity_id = parse_uuid("id", id)
    await service.cancel_activity(session, tenant_id, activity_id, principal.actor(), data.reason)
    return json_response(await detail_or_404(session, tenant_id, activity_id))
