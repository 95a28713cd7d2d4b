from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import session_user
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of
from reten.kit.params import AS_UUID, parse_uuid
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession
from reten.tenants import service
from reten.tenants.schemas import TenantRead, TenantSetup, TenantSummary, TenantUpdate

router = APIRouter(prefix="/api/tenant", tags=["Tenants"])


@router.get("/mine", response_model=list[TenantSummary])
async def my_tenants(
    principal: Principal = Depends(session_user()),
    session: AsyncSession = DbSession,
) -> list[TenantSummary]:
    tenants = await service.list_mine(session, principal.user_id)
    return [TenantSummary.model_validate(t) for t in tenants]


@router.post(
    "/setup", status_code=201, response_model=TenantSummary, openapi_extra=openapi_body(TenantSetup)
)
async def setup_tenant(
    principal: Principal = Depends(session_user(Permission.CREATE_TENANT)),
    data: TenantSetup = Depends(body_of(TenantSetup)),
    session: AsyncSession = DbSession,
) -> TenantSummary:
    return TenantSummary.model_validate(
        await service.setup_tenant(session, data, actor=principal.actor())
    )


@router.get("", response_model=list[TenantRead])
async def list_tenants(
    principal: Principal = Depends(session_user(Permission.VIEW_TENANTS)),
    session: AsyncSession = DbSession,
) -> list[TenantRead]:
    return [TenantRead.model_validate(t) for t in await service.list_visible(session, principal)]


@router.patch("/{id}", response_model=TenantRead, openapi_extra=openapi_body(TenantUpdate))
async def update_tenant(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(session_user(Permission.UPDATE_TENANT)),
    data: TenantUpdate = Depends(body_of(TenantUpdate)),
    session: AsyncSession = DbSession,
) -> TenantRead:
    tenant = await service.update_tenant(
        session, parse_uuid("id", id), data, actor=principal.actor()
    )
    return TenantRead.model_validate(tenant)


@router.delete("/{id}", status_code=204)
async def delete_tenant(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(session_user(Permission.DELETE_TENANT)),
    session: AsyncSession = DbSession,
) -> Response:
    await service.delete_tenant(session, parse_uuid("id", id))
    return Response(status_code=204)
