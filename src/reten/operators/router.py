"""The /api/operators endpoints (management-api.md §9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of, immutable
from reten.kit.listing import parse_search
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_BOOLEAN,
    AS_UUID,
    as_one_of,
    parse_bool,
    parse_enum,
    parse_optional_uuid,
    parse_uuid,
)
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.kit.sync import SyncBatch, SyncResultRead, sync_body
from reten.operators import service
from reten.operators.models import OperatorType
from reten.operators.schemas import (
    OPERATOR_IMMUTABLE,
    OperatorCreate,
    OperatorDetailRead,
    OperatorPage,
    OperatorRead,
    OperatorSync,
    OperatorSyncItem,
    OperatorUpdate,
    check_text,
)
from reten.runtime import DbSession

router = APIRouter(prefix="/api/operators", tags=["Operators"])

DEFAULT_PER_PAGE = 25


@router.post(
    "", status_code=201, response_model=OperatorRead, openapi_extra=openapi_body(OperatorCreate)
)
async def create_operator(
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_OPERATORS)),
    data: OperatorCreate = Depends(body_of(OperatorCreate)),
    session: AsyncSession = DbSession,
) -> OperatorRead:
    return OperatorRead.of(await service.create(session, principal.require_tenant(), data))


@router.get("", response_model=OperatorPage)
async def list_operators(
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_OPERATORS)),
    page: Annotated[str | None, Query(description="≥ 1, default 1"), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(description="1-100, default 25"), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(description="alias of per_page"), AS_PER_PAGE] = None,
    search: str | None = Query(default=None, description="substring of name or email"),
    type: Annotated[
        str | None,
        Query(description="SALESMAN, ACTIVATOR, CALLCENTER"),
        as_one_of([t.value for t in OperatorType]),
    ] = None,
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    is_placeholder: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    external_id: str | None = Query(default=None, description="exact match"),
    route_id: Annotated[
        str | None, Query(description="operators with an active link"), AS_UUID
    ] = None,
    sort: str | None = Query(default=None, description="name (default), -name, created_at, …"),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=DEFAULT_PER_PAGE)
    type_value = parse_enum("type", type, [t.value for t in OperatorType])
    filters = service.OperatorFilters(
        search=check_text("search", parse_search(search)),
        type=OperatorType(type_value) if type_value else None,
        is_active=parse_bool("is_active", is_active),
        is_placeholder=parse_bool("is_placeholder", is_placeholder),
        external_id=check_text("external_id", external_id),
        route_id=parse_optional_uuid("route_id", route_id),
    )
    rows, total, estimate = await service.list_operators(
        session, principal.require_tenant(), filters, sort, params
    )
    data = [OperatorRead.of(o).model_dump(mode="json") for o in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))


@router.post(
    "/sync",
    status_code=201,
    response_model=SyncResultRead,
    openapi_extra=openapi_body(OperatorSync),
)
async def sync_operators(
    principal: Principal = Depends(tenant_principal(Permission.SYNC_OPERATORS)),
    batch: SyncBatch[OperatorSyncItem] = Depends(sync_body(OperatorSyncItem)),
    session: AsyncSession = DbSession,
) -> SyncResultRead:
    return await service.sync(session, principal.require_tenant(), batch)


@router.get("/{id}", response_model=OperatorDetailRead)
async def get_operator(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_OPERATORS)),
    session: AsyncSession = DbSession,
) -> OperatorDetailRead:
    operator, routes = await service.detail(
        session, principal.require_tenant(), parse_uuid("id", id)
    )
    return OperatorDetailRead.of_detail(operator, routes)


@router.patch("/{id}", response_model=OperatorRead, openapi_extra=openapi_body(OperatorUpdate))
async def update_operator(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_OPERATORS)),
    data: OperatorUpdate = Depends(body_of(OperatorUpdate, refused=immutable(*OPERATOR_IMMUTABLE))),
    session: AsyncSession = DbSession,
) -> OperatorRead:
    operator = await service.update_operator(
        session, principal.require_tenant(), parse_uuid("id", id), data
    )
    return OperatorRead.of(operator)


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_operator(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_OPERATORS)),
    session: AsyncSession = DbSession,
) -> Response:
    await service.deactivate(session, principal.require_tenant(), parse_uuid("id", id))
    return Response(status_code=204)
