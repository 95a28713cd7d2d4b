from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activity_config import service
from reten.activity_config.schemas import (
    TaskResultTypeCreate,
    TaskResultTypeRead,
    TaskResultTypeUpdate,
)
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import body_of, parse_object, validate_body
from reten.kit.params import parse_bool, parse_uuid
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession

router = APIRouter(prefix="/api/activity-config", tags=["Activity config"])


@router.get("/task-result-types", response_model=list[TaskResultTypeRead])
async def list_task_result_types(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    is_active: str | None = Query(default=None),
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
    item = await service.create_type(session, principal.require_tenant(), data)
    return TaskResultTypeRead.model_validate(item)


async def _update_body(request: Request) -> TaskResultTypeUpdate:
    data = parse_object(await request.body())
    if "code" in data:
        raise ValidationFailed.one("code", "is immutable")
    return validate_body(TaskResultTypeUpdate, data)


@router.patch(
    "/task-result-types/{id}",
    response_model=TaskResultTypeRead,
    openapi_extra=openapi_body(TaskResultTypeUpdate),
)
async def update_task_result_type(
    id: str,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: TaskResultTypeUpdate = Depends(_update_body),
    session: AsyncSession = DbSession,
) -> TaskResultTypeRead:
    item = await service.update_type(
        session, principal.require_tenant(), parse_uuid("id", id), data
    )
    return TaskResultTypeRead.model_validate(item)


@router.delete(
    "/task-result-types/{id}",
    status_code=204,
    responses={200: {"model": TaskResultTypeRead, "description": "Deactivated: results use it"}},
)
async def delete_task_result_type(
    id: str,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    item = await service.delete_type(session, principal.require_tenant(), parse_uuid("id", id))
    if item is None:
        return Response(status_code=204)
    body = TaskResultTypeRead.model_validate(item).model_dump_json(by_alias=True)
    return Response(content=body, status_code=200, media_type="application/json")
