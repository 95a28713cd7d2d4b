"""The /api/routes endpoints (management-api.md §10)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of
from reten.kit.listing import parse_search
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import AS_BOOLEAN, AS_UUID, parse_bool, parse_optional_uuid, parse_uuid
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.kit.sync import SyncBatch, SyncResultRead, sync_body
from reten.operators.schemas import (
    check_text,
)
from reten.routes import service
from reten.routes.models import Route
from reten.routes.schemas import (
    RouteCommerceCreate,
    RouteCommerceRead,
    RouteCreate,
    RouteDetailRead,
    RouteOperatorCreate,
    RouteOperatorRead,
    RoutePage,
    RouteRead,
    RouteSync,
    RouteSyncItem,
    RouteUpdate,
)
from reten.runtime import DbSession

router = APIRouter(prefix="/api/routes", tags=["Routes"])

DEFAULT_PER_PAGE = 25

# One dependency object for every endpoint, so a request that also resolves the path route
# authenticates once (FastAPI caches a dependency per request by identity).
manage_routes = tenant_principal(Permission.MANAGE_ROUTES)


async def _path_route(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(manage_routes),
    session: AsyncSession = DbSession,
) -> Route:
    """The route a link endpoint acts on (404 for an unknown id or another tenant's route).

    Declared after the body parameter, so body syntax (400) is checked first, as in §1.6.
    """
    return await service.get(session, principal.require_tenant(), parse_uuid("id", id))


@router.post(
    "", status_code=201, response_model=RouteDetailRead, openapi_extra=openapi_body(RouteCreate)
)
async def create_route(
    principal: Principal = Depends(manage_routes),
    data: RouteCreate = Depends(body_of(RouteCreate)),
    session: AsyncSession = DbSession,
) -> RouteDetailRead:
    return await service.create(session, principal.require_tenant(), data)


@router.get("", response_model=RoutePage)
async def list_routes(
    principal: Principal = Depends(manage_routes),
    page: Annotated[str | None, Query(description="≥ 1, default 1"), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(description="1-100, default 25"), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(description="alias of per_page"), AS_PER_PAGE] = None,
    search: str | None = Query(default=None, description="substring of name or external id"),
    external_id: str | None = Query(default=None, description="exact match"),
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    operator_id: Annotated[
        str | None, Query(description="routes with an active link"), AS_UUID
    ] = None,
    commerce_id: Annotated[
        str | None, Query(description="routes the commerce is on"), AS_UUID
    ] = None,
    sort: str | None = Query(default=None, description="name (default), -name, created_at, …"),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=DEFAULT_PER_PAGE)
    filters = service.RouteFilters(
        search=check_text("search", parse_search(search)),
        external_id=check_text("external_id", external_id),
        is_active=parse_bool("is_active", is_active),
        operator_id=parse_optional_uuid("operator_id", operator_id),
        commerce_id=parse_optional_uuid("commerce_id", commerce_id),
    )
    rows, total, estimate = await service.list_routes(
        session, principal.require_tenant(), filters, sort, params
    )
    data = [RouteRead.of(r).model_dump(mode="json") for r in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))


@router.post(
    "/sync", status_code=201, response_model=SyncResultRead, openapi_extra=openapi_body(RouteSync)
)
async def sync_routes(
    principal: Principal = Depends(manage_routes),
    batch: SyncBatch[RouteSyncItem] = Depends(sync_body(RouteSyncItem)),
    session: AsyncSession = DbSession,
) -> SyncResultRead:
    return await service.sync(session, principal.require_tenant(), batch)


@router.get("/{id}", response_model=RouteDetailRead)
async def get_route(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(manage_routes),
    session: AsyncSession = DbSession,
) -> RouteDetailRead:
    return await service.detail(session, principal.require_tenant(), parse_uuid("id", id))


@router.patch("/{id}", response_model=RouteDetailRead, openapi_extra=openapi_body(RouteUpdate))
async def update_route(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(manage_routes),
    data: RouteUpdate = Depends(body_of(RouteUpdate)),
    session: AsyncSession = DbSession,
) -> RouteDetailRead:
    return await service.update_route(
        session, principal.require_tenant(), parse_uuid("id", id), data
    )


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_route(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(manage_routes),
    session: AsyncSession = DbSession,
) -> Response:
    await service.deactivate(session, principal.require_tenant(), parse_uuid("id", id))
    return Response(status_code=204)


@router.post(
    "/{id}/operators",
    status_code=201,
    response_model=RouteOperatorRead,
    openapi_extra=openapi_body(RouteOperatorCreate),
)
async def add_route_operator(
    principal: Principal = Depends(manage_routes),
    data: RouteOperatorCreate = Depends(body_of(RouteOperatorCreate)),
    route: Route = Depends(_path_route),
    session: AsyncSession = DbSession,
) -> RouteOperatorRead:
    link = await service.link_operator(session, principal.require_tenant(), route, data)
    return RouteOperatorRead.of(link)


@router.delete("/{id}/operators/{operatorId}", status_code=204, response_class=Response)
async def remove_route_operator(
    id: Annotated[str, AS_UUID],
    operator_id: Annotated[str, Path(alias="operatorId"), AS_UUID],
    principal: Principal = Depends(manage_routes),
    session: AsyncSession = DbSession,
) -> Response:
    await service.unlink_operator(
        session,
        principal.require_tenant(),
        parse_uuid("id", id),
        parse_uuid("operatorId", operator_id),
    )
    return Response(status_code=204)


@router.post(
    "/{id}/commerces",
    status_code=201,
    response_model=RouteCommerceRead,
    openapi_extra=openapi_body(RouteCommerceCreate),
)
async def add_route_commerce(
    principal: Principal = Depends(manage_routes),
    data: RouteCommerceCreate = Depends(body_of(RouteCommerceCreate)),
    route: Route = Depends(_path_route),
    session: AsyncSession = DbSession,
) -> RouteCommerceRead:
    link = await service.link_commerce(session, principal.require_tenant(), route, data)
    return RouteCommerceRead.of(link)


@router.delete("/{id}/commerces/{commerceId}", status_code=204, response_class=Response)
async def remove_route_commerce(
    id: Annotated[str, AS_UUID],
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    principal: Principal = Depends(manage_routes),
    session: AsyncSession = DbSession,
) -> Response:
    await service.unlink_commerce(
        session,
        principal.require_tenant(),
        parse_uuid("id", id),
        parse_uuid("commerceId", commerce_id),
    )
    return Response(status_code=204)
