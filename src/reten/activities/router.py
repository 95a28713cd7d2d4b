"""Activities, management side (management-api.md §11)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import service
from reten.activities.lifecycle import ActivityStatus
from reten.activities.models import ActivityType, Channel
from reten.activities.schemas import CancelInput
from reten.activities.views import activity_item
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import body_of
from reten.kit.listing import parse_search
from reten.kit.pagination import page_envelope, parse_page_params
from reten.kit.params import parse_enum, parse_enum_list, parse_timestamp, parse_uuid
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession

router = APIRouter(prefix="/api/activities", tags=["Activities"])


@router.get("", summary="List activities (paginated)")
async def list_activities(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    page: str | None = Query(default=None),
    per_page: str | None = Query(default=None),
    limit: str | None = Query(default=None),
    status: str | None = Query(default=None, description="ActivityStatus values, comma-separated"),
    type: str | None = Query(default=None),
    channel: str | None = Query(default=None),
    commerce_id: str | None = Query(default=None),
    operator_id: str | None = Query(default=None),
    route_id: str | None = Query(default=None),
    idempotency_key: str | None = Query(default=None),
    scheduled_from: str | None = Query(default=None),
    scheduled_to: str | None = Query(default=None),
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
        commerce_id=parse_uuid("commerce_id", commerce_id) if commerce_id else None,
        operator_id=parse_uuid("operator_id", operator_id) if operator_id else None,
        route_id=parse_uuid("route_id", route_id) if route_id else None,
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


@router.get("/{id}", summary="One activity with its results, events and dispatch state")
async def get_activity(
    id: str,
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    detail = await service.detail_or_404(session, principal.require_tenant(), parse_uuid("id", id))
    return json_response(detail)


@router.patch("/{id}/cancel", summary="Cancel an activity", openapi_extra=openapi_body(CancelInput))
async def cancel_activity(
    id: str,
    principal: Principal = Depends(tenant_principal(Permission.CANCEL_ACTIVITY)),
    data: CancelInput = Depends(body_of(CancelInput)),
    session: AsyncSession = DbSession,
) -> Response:
    tenant_id = principal.require_tenant()
    activity_id = parse_uuid("id", id)
    await service.cancel_activity(session, tenant_id, activity_id, principal.actor(), data.reason)
    return json_response(await service.detail_or_404(session, tenant_id, activity_id))
