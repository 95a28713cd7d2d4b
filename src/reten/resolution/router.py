"""Resolution of one activity: retry, its target user and its attributes (§11.8–11.11)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import resolution_actions
from reten.activities.schemas import ActivityDetailRead
from reten.activity_detail.service import detail_or_404
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of
from reten.kit.params import AS_UUID, parse_uuid
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.resolution import service
from reten.resolution.endpoint_schemas import (
    ActivityAttributeRead,
    TargetUserAssign,
    TargetUserRead,
)
from reten.runtime import DbSession

router = APIRouter(prefix="/api/activities", tags=["Activities"])


@router.patch(
    "/{id}/retry-resolution",
    response_model=ActivityDetailRead,
    summary="Re-run the failed resolution of an UNRESOLVED activity",
)
async def retry_resolution(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    session: AsyncSession = DbSession,
) -> Response:
    tenant_id, activity_id = principal.require_tenant(), parse_uuid("id", id)
    await resolution_actions.retry_resolution(session, tenant_id, activity_id, principal.actor())
    return json_response(await detail_or_404(session, tenant_id, activity_id))


@router.get("/{id}/target-users", response_model=list[TargetUserRead])
async def list_target_users(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[TargetUserRead]:
    views = await service.target_users(session, principal.require_tenant(), parse_uuid("id", id))
    return [TargetUserRead.of(v) for v in views]


@router.patch(
    "/{id}/target-users/{targetUserId}/resolve",
    response_model=TargetUserRead,
    summary="Assign the target user by hand",
    openapi_extra=openapi_body(TargetUserAssign),
)
async def resolve_target_user(
    id: Annotated[str, AS_UUID],
    target_user_id: Annotated[str, Path(alias="targetUserId"), AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    data: TargetUserAssign = Depends(body_of(TargetUserAssign)),
    session: AsyncSession = DbSession,
) -> TargetUserRead:
    view = await resolution_actions.assign_target_user(
        session,
        principal.require_tenant(),
        parse_uuid("id", id),
        parse_uuid("targetUserId", target_user_id),
        data.commerce_user_id,
    )
    return TargetUserRead.of(view)


@router.get("/{id}/attributes", response_model=list[ActivityAttributeRead])
async def list_attributes(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[ActivityAttributeRead]:
    rows = await service.attributes(session, principal.require_tenant(), parse_uuid("id", id))
    return [ActivityAttributeRead.of(record, key) for record, key in rows]
