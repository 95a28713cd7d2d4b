from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activity_config import service
from reten.activity_config.schemas import (
    AttributeKeyRead,
    AttributePolicyRead,
    AttributePolicyUpsert,
    TargetResolutionConfigCreate,
    TargetResolutionConfigRead,
    TargetResolutionConfigUpdate,
    TaskResultTypeCreate,
    TaskResultTypeRead,
    TaskResultTypeUpdate,
)
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of, immutable
from reten.kit.params import AS_BOOLEAN, AS_UUID, parse_bool, parse_uuid
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession, get_runtime

router = APIRouter(prefix="/api/activity-config", tags=["Activity config"])


@router.get("/task-result-types", response_model=list[TaskResultTypeRead])
async def list_task_result_types(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    session: AsyncSession = DbSession,
) -> list[TaskResultTypeRead]:
    items = await service.list_types(
        session, principal.require_tenant(), is_active=parse_bool("is_active", is_active)
    )
    return [TaskResultTypeRead.model_validate(i) for i in items]


@router.post(
    "/task-result-types",
    status_code=201,
    response_model=TaskResultTypeRead,
    openapi_extra=openapi_body(TaskResultTypeCreate),
)
async def create_task_result_type(
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: TaskResultTypeCreate = Depends(body_of(TaskResultTypeCreate)),
    session: AsyncSession = DbSession,
) -> TaskResultTypeRead:
    item = await service.create_type(
        session, principal.require_tenant(), data, actor=principal.actor()
    )
    return TaskResultTypeRead.model_validate(item)


@router.patch(
    "/task-result-types/{id}",
    response_model=TaskResultTypeRead,
    openapi_extra=openapi_body(TaskResultTypeUpdate),
)
async def update_task_result_type(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: TaskResultTypeUpdate = Depends(body_of(TaskResultTypeUpdate, refused=immutable("code"))),
    session: AsyncSession = DbSession,
) -> TaskResultTypeRead:
    item = await service.update_type(
        session, principal.require_tenant(), parse_uuid("id", id), data, actor=principal.actor()
    )
    return TaskResultTypeRead.model_validate(item)


@router.delete(
    "/task-result-types/{id}",
    status_code=204,
    responses={200: {"model": TaskResultTypeRead, "description": "Deactivated: results use it"}},
)
async def delete_task_result_type(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    item = await service.delete_type(
        session, principal.require_tenant(), parse_uuid("id", id), actor=principal.actor()
    )
    if item is None:
        return Response(status_code=204)
    body = TaskResultTypeRead.model_validate(item).model_dump_json(by_alias=True)
    return Response(content=body, status_code=200, media_type="application/json")


# --- attribute keys and policies (§13.5–13.7) -----------------------------------------------------


@router.get("/attribute-keys", response_model=list[AttributeKeyRead])
async def list_attribute_keys(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[AttributeKeyRead]:
    return [AttributeKeyRead.model_validate(k) for k in await service.list_attribute_keys(session)]


@router.get("/attribute-policies", response_model=list[AttributePolicyRead])
async def list_attribute_policies(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[AttributePolicyRead]:
    rows = await service.list_policies(session, principal.require_tenant())
    return [AttributePolicyRead.of(policy, key) for policy, key in rows]


def _env(request: Request) -> dict[str, Any]:
    """What the policy validators need: some rules hold only in production."""
    return {"env": get_runtime(request).settings.env}


@router.post(
    "/attribute-policies",
    response_model=AttributePolicyRead,
    summary="Create or replace the policy of one attribute key",
    openapi_extra=openapi_body(AttributePolicyUpsert),
)
async def upsert_attribute_policy(
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: AttributePolicyUpsert = Depends(body_of(AttributePolicyUpsert, context=_env)),
    session: AsyncSession = DbSession,
) -> AttributePolicyRead:
    policy, key = await service.upsert_policy(
        session, principal.require_tenant(), data, actor=principal.actor()
    )
    return AttributePolicyRead.of(policy, key)


# --- target resolution configs (§13.8–13.11) ------------------------------------------------------


@router.get("/target-resolution", response_model=list[TargetResolutionConfigRead])
async def list_target_resolution_configs(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[TargetResolutionConfigRead]:
    items = await service.list_target_configs(session, principal.require_tenant())
    return [TargetResolutionConfigRead.of(i.config, i.criteria) for i in items]


@router.post(
    "/target-resolution",
    status_code=201,
    response_model=TargetResolutionConfigRead,
    openapi_extra=openapi_body(TargetResolutionConfigCreate),
)
async def create_target_resolution_config(
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: TargetResolutionConfigCreate = Depends(body_of(TargetResolutionConfigCreate)),
    session: AsyncSession = DbSession,
) -> TargetResolutionConfigRead:
    item = await service.create_target_config(
        session, principal.require_tenant(), data, actor=principal.actor()
    )
    return TargetResolutionConfigRead.of(item.config, item.criteria)


@router.patch(
    "/target-resolution/{id}",
    response_model=TargetResolutionConfigRead,
    openapi_extra=openapi_body(TargetResolutionConfigUpdate),
)
async def update_target_resolution_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: TargetResolutionConfigUpdate = Depends(body_of(TargetResolutionConfigUpdate)),
    session: AsyncSession = DbSession,
) -> TargetResolutionConfigRead:
    item = await service.update_target_config(
        session, principal.require_tenant(), parse_uuid("id", id), data, actor=principal.actor()
    )
    return TargetResolutionConfigRead.of(item.config, item.criteria)


@router.delete("/target-resolution/{id}", status_code=204)
async def delete_target_resolution_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    await service.delete_target_config(
        session, principal.require_tenant(), parse_uuid("id", id), actor=principal.actor()
    )
    return Response(status_code=204)
