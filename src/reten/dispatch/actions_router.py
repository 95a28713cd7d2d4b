"""Dispatch actions on activities and configs (management-api.md 11.12, 11.13, 14.13, 14.15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.schemas import ActivityDetailRead
from reten.activity_detail.service import detail_or_404
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.dispatch.actions import DispatchService
from reten.dispatch.schemas import DeliveryTestRead, ResendAcceptedRead
from reten.kit.params import AS_UUID, parse_uuid
from reten.kit.responses import json_response
from reten.runtime import DbSession

router = APIRouter(tags=["Dispatch"])


def _service(request: Request) -> DispatchService:
    # Wired by the app factory: the runtime every router imports knows nothing of dispatch.
    return request.app.state.dispatch  # type: ignore[no-any-return]


@router.post(
    "/api/activities/tasks/{id}/dispatch",
    status_code=204,
    summary="Deliver a READY task now (one synchronous attempt)",
)
async def dispatch_task(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.DISPATCH_ACTIVITY)),
) -> Response:
    await _service(request).dispatch_now(
        principal.require_tenant(), parse_uuid("id", id), principal.actor()
    )
    return Response(status_code=204)


@router.post(
    "/api/activities/{id}/retry-dispatch",
    response_model=ActivityDetailRead,
    summary="Make a dispatch-failed activity READY again with a fresh schedule",
)
async def retry_dispatch(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.DISPATCH_ACTIVITY)),
    session: AsyncSession = DbSession,
) -> Response:
    tenant_id, activity_id = principal.require_tenant(), parse_uuid("id", id)
    await _service(request).retry_dispatch(session, tenant_id, activity_id, principal.actor())
    return json_response(await detail_or_404(session, tenant_id, activity_id))


@router.post(
    "/api/activities/{id}/resend",
    status_code=202,
    response_model=ResendAcceptedRead,
    summary="Deliver a DISPATCHED activity once more (same webhook-id)",
)
async def resend(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.DISPATCH_ACTIVITY)),
) -> Response:
    answer = await _service(request).resend(principal.require_tenant(), parse_uuid("id", id))
    return json_response(answer, 202)


@router.post(
    "/api/dispatch-configs/{id}/test",
    response_model=DeliveryTestRead,
    summary="Deliver a synthetic activity through a config; nothing is stored",
)
async def test_config(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
) -> Response:
    answer = await _service(request).test_config(principal.require_tenant(), parse_uuid("id", id))
    return json_response(answer)
