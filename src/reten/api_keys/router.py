from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from reten.api_keys import service
from reten.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from reten.auth.dependencies import tenant_user
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.auth.schemas import MessageRead
from reten.kit.jsonbody import body_of
from reten.kit.params import AS_BOOLEAN, AS_UUID, parse_bool, parse_uuid
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession, get_runtime

router = APIRouter(prefix="/api/api-keys", tags=["API keys"])


@router.post(
    "", status_code=201, response_model=ApiKeyCreated, openapi_extra=openapi_body(ApiKeyCreate)
)
async def create_api_key(
    principal: Principal = Depends(tenant_user(Permission.MANAGE_API_KEYS)),
    data: ApiKeyCreate = Depends(body_of(ApiKeyCreate)),
    session: AsyncSession = DbSession,
) -> ApiKeyCreated:
    key, plaintext = await service.create_key(
        session,
        tenant_id=principal.require_tenant(),
        owner_id=principal.user_id,
        owner_permissions=principal.permissions,
        name=data.name,
        permissions=data.permissions,
        expires_at=data.expires_at,
        actor=principal.actor(),
    )
    return ApiKeyCreated(**ApiKeyRead.of(key).model_dump(), plaintext_key=plaintext, key=plaintext)


@router.get("", response_model=list[ApiKeyRead])
async def list_api_keys(
    principal: Principal = Depends(tenant_user(Permission.MANAGE_API_KEYS)),
    all: Annotated[
        str | None, Query(description="true: every key of the tenant (ADMIN+)"), AS_BOOLEAN
    ] = None,
    session: AsyncSession = DbSession,
) -> list[ApiKeyRead]:
    keys = await service.list_keys(session, principal, all_keys=parse_bool("all", all) or False)
    return [ApiKeyRead.of(k) for k in keys]


@router.post("/{id}/revoke", response_model=MessageRead)
async def revoke_api_key(
    request: Request,
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_user(Permission.MANAGE_API_KEYS)),
    session: AsyncSession = DbSession,
) -> MessageRead:
    key_id: uuid.UUID = parse_uuid("id", id)
    await service.revoke_key(session, principal, key_id, get_runtime(request).api_key_cache)
    return MessageRead(message="API key revoked successfully")
