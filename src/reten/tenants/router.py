from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import session_user
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of
from reten.kit.schemas import openapi_body
from reten.runtime import get_session
from reten.tenants import service
from reten.tenants.schemas import TenantSetup, TenantSummary

router = APIRouter(prefix="/api/tenant", tags=["Tenants"])


@router.get("/mine", response_model=list[TenantSummary])
async def my_tenants(
    principal: Principal = Depends(session_user()),
    session: AsyncSession = Depends(get_session),
) -> list[TenantSummary]:
    tenants = await service.list_mine(session, principal.user_id)
    return [TenantSummary.model_validate(t) for t in tenants]


@router.post(
    "/setup", status_code=201, response_model=TenantSummary, openapi_extra=openapi_body(TenantSetup)
)
async def setup_tenant(
    principal: Principal = Depends(session_user(Permission.CREATE_TENANT)),
    data: TenantSetup = Depends(body_of(TenantSetup)),
    session: AsyncSession = Depends(get_session),
) -> TenantSummary:
    return TenantSummary.model_validate(await service.setup_tenant(session, data))
