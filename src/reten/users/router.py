"""Users of the active tenant (management-api.md §5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import tenant_user
from reten.auth.permissions import Permission, Role
from reten.auth.principal import Principal
from reten.kit.jsonbody import body_of
from reten.kit.listing import parse_search
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import AS_BOOLEAN, AS_UUID, as_one_of, parse_bool, parse_enum, parse_uuid
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession
from reten.users import service
from reten.users.schemas import (
    RolesUpdate,
    UserCreate,
    UserPage,
    UserRead,
    UserRolesRead,
    UserUpdate,
)

router = APIRouter(prefix="/api/user", tags=["Users"])


@router.get(
    "/tenant-users", response_model=UserPage, summary="Users of the active tenant (paginated)"
)
async def list_tenant_users(
    principal: Principal = Depends(tenant_user(Permission.VIEW_USERS)),
    page: Annotated[str | None, Query(), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    search: str | None = Query(default=None, description="email, first or last name"),
    role: Annotated[str | None, Query(), as_one_of([r.value for r in Role])] = None,
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    sort: str | None = Query(
        default=None, description="email (default), -email, created_at, -created_at"
    ),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=25)
    rows, total, estimate = await service.list_members(
        session,
        principal.require_tenant(),
        search=parse_search(search),
        role=parse_enum("role", role, [r.value for r in Role]),
        is_active=parse_bool("is_active", is_active),
        sort=sort,
        page=params,
    )
    data = [UserRead.of(u).model_dump(mode="json", by_alias=True) for u in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))


@router.post("", status_code=201, response_model=UserRead, openapi_extra=openapi_body(UserCreate))
async def create_user(
    principal: Principal = Depends(tenant_user(Permission.CREATE_USER)),
    data: UserCreate = Depends(body_of(UserCreate)),
    session: AsyncSession = DbSession,
) -> UserRead:
    user = await service.create_member(
        session,
        principal.require_tenant(),
        principal,
        email=data.email,
        password=data.password,
        first_name=data.first_name,
        last_name=data.last_name,
        roles=[r.value for r in data.roles],
    )
    return UserRead.of(user)


# A member's email and roles change elsewhere, never through the PATCH.
_USER_REFUSED = {
    "email": "is immutable here",
    "roles": "is immutable here (use PUT /api/user/:id/roles)",
}


@router.patch("/{id}", response_model=UserRead, openapi_extra=openapi_body(UserUpdate))
async def update_user(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_user(Permission.UPDATE_USER)),
    data: UserUpdate = Depends(body_of(UserUpdate, refused=_USER_REFUSED)),
    session: AsyncSession = DbSession,
) -> UserRead:
    user = await service.update_member(
        session,
        principal.require_tenant(),
        principal,
        parse_uuid("id", id),
        first_name=data.first_name,
        last_name=data.last_name,
        is_active=data.is_active,
    )
    return UserRead.of(user)


@router.put("/{id}/roles", response_model=UserRolesRead, openapi_extra=openapi_body(RolesUpdate))
async def set_user_roles(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_user(Permission.UPDATE_USER)),
    data: RolesUpdate = Depends(body_of(RolesUpdate)),
    session: AsyncSession = DbSession,
) -> UserRolesRead:
    user = await service.set_roles(
        session,
        principal.require_tenant(),
        principal,
        parse_uuid("id", id),
        [r.value for r in data.roles],
    )
    return UserRolesRead(id=user.id, roles=list(user.roles))


@router.delete("/{id}", status_code=204)
async def delete_user(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_user(Permission.DELETE_USER)),
    session: AsyncSession = DbSession,
) -> Response:
    await service.delete_member(
        session, principal.require_tenant(), principal, parse_uuid("id", id)
    )
    return Response(status_code=204)
