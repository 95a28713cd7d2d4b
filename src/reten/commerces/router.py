"""Commerce endpoints (management-api.md §8): parse, call one service function, answer a schema.

Check order (§1.6): credentials and permission come from the first dependency; path, query and
body syntax next; then the objects named by the path (dependencies run in parameter order, so a
body parameter comes before the path objects it is checked against).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.commerces import children, queries, service, sync
from reten.commerces.models import Commerce, CommerceUser, CommerceUserRole
from reten.commerces.schemas import (
    AddressCreate,
    AddressRead,
    AddressUpdate,
    CommerceCreate,
    CommerceDetailRead,
    CommercePage,
    CommerceRead,
    CommerceSync,
    CommerceSyncItem,
    CommerceUpdate,
    CommerceUserCreate,
    CommerceUserRead,
    CommerceUserRoleCreate,
    CommerceUserUpdate,
    ContactCreate,
    ContactRead,
    ContactUpdate,
)
from reten.kit.errors import AppError, ValidationFailed
from reten.kit.jsonbody import IMMUTABLE, body_of, immutable
from reten.kit.listing import parse_search
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_BOOLEAN,
    AS_UUID,
    as_one_of,
    parse_bool,
    parse_optional_uuid,
    parse_uuid,
)
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.kit.sync import SyncBatch, SyncResultRead, sync_body
from reten.runtime import DbSession

router = APIRouter(prefix="/api/commerces", tags=["Commerces"])

manage = tenant_principal(Permission.MANAGE_COMMERCES)
sync_access = tenant_principal(Permission.SYNC_COMMERCES)


def _detail(bundle: queries.CommerceBundle) -> CommerceDetailRead:
    return CommerceDetailRead(
        **CommerceRead.fields_of(bundle.commerce),
        addresses=[AddressRead.of(a) for a in bundle.addresses],
        users=[_user(u) for u in bundle.users],
    )


def _user(bundle: queries.UserBundle) -> CommerceUserRead:
    return CommerceUserRead.of(bundle.user, bundle.roles, bundle.contacts)


def _role(raw: str) -> CommerceUserRole:
    try:
        return CommerceUserRole(raw)
    except ValueError:
        raise ValidationFailed.one(
            "role", f"must be one of {', '.join(r.value for r in CommerceUserRole)}"
        ) from None


class _MethodNotAllowed(AppError):
    status_code = 405


async def _commerce_id(request: Request, id: Annotated[str, Path(), AS_UUID]) -> uuid.UUID:
    # `/api/commerces/sync` is a literal path that only takes POST (§2: literal segments win
    # over :id), so GET, PATCH and DELETE on it are 405, not "id must be a UUID".
    if id == "sync":
        raise _MethodNotAllowed(
            f"Method {request.method} not allowed on {request.url.path}",
            headers={"Allow": "POST"},
        )
    return parse_uuid("id", id)


# The objects named by the path (404 for an unknown id or another tenant's).


async def _path_commerce(
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    principal: Principal = Depends(manage),
    session: AsyncSession = DbSession,
) -> Commerce:
    return await queries.get_commerce(
        session, principal.require_tenant(), parse_uuid("commerceId", commerce_id)
    )


async def _path_user(
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    user_id: Annotated[str, Path(alias="userId"), AS_UUID],
    principal: Principal = Depends(manage),
    session: AsyncSession = DbSession,
) -> CommerceUser:
    commerce_uuid = parse_uuid("commerceId", commerce_id)
    user_uuid = parse_uuid("userId", user_id)
    return await queries.get_user(session, principal.require_tenant(), commerce_uuid, user_uuid)


# --- commerces ---------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=CommerceDetailRead,
    summary="Create a commerce (with its addresses and users)",
    openapi_extra=openapi_body(CommerceCreate),
)
async def create_commerce(
    principal: Principal = Depends(manage),
    data: CommerceCreate = Depends(body_of(CommerceCreate)),
    session: AsyncSession = DbSession,
) -> CommerceDetailRead:
    return _detail(await service.create(session, principal.require_tenant(), data))


@router.get("", response_model=CommercePage, summary="List commerces (paginated)")
async def list_commerces(
    principal: Principal = Depends(manage),
    page: Annotated[str | None, Query(), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    search: str | None = Query(default=None, description="name or external id, substring"),
    external_id: str | None = Query(default=None),
    global_external_id: str | None = Query(default=None),
    tax_id: str | None = Query(default=None),
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    is_placeholder: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    route_id: Annotated[
        str | None, Query(description="commerces assigned to the route"), AS_UUID
    ] = None,
    sort: str | None = Query(
        default=None, description="name (default), -name, created_at, -created_at"
    ),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=25)
    filters = queries.CommerceFilters(
        search=parse_search(search),
        external_id=external_id,
        global_external_id=global_external_id,
        tax_id=tax_id,
        is_active=parse_bool("is_active", is_active),
        is_placeholder=parse_bool("is_placeholder", is_placeholder),
        route_id=parse_optional_uuid("route_id", route_id),
    )
    rows, total, estimate = await queries.list_commerces(
        session, principal.require_tenant(), filters, sort=sort, page=params
    )
    data = [CommerceRead.of(c).model_dump(mode="json", by_alias=True) for c in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))


@router.post(
    "/sync",
    status_code=201,
    response_model=SyncResultRead,
    summary="Create or update up to 1000 commerces, all or nothing",
    openapi_extra=openapi_body(CommerceSync),
)
async def sync_commerces(
    principal: Principal = Depends(sync_access),
    batch: SyncBatch[CommerceSyncItem] = Depends(sync_body(CommerceSyncItem)),
    session: AsyncSession = DbSession,
) -> SyncResultRead:
    result = await sync.sync(session, principal.require_tenant(), batch)
    return SyncResultRead(created=result.created, updated=result.updated, total=result.total)


@router.get("/{id}", response_model=CommerceDetailRead, summary="A commerce with its children")
async def get_commerce(
    principal: Principal = Depends(manage),
    commerce_id: uuid.UUID = Depends(_commerce_id),
    session: AsyncSession = DbSession,
) -> CommerceDetailRead:
    bundle = await queries.get_detail(session, principal.require_tenant(), commerce_id)
    return _detail(bundle)


@router.patch(
    "/{id}",
    response_model=CommerceDetailRead,
    summary="Update a commerce",
    openapi_extra=openapi_body(CommerceUpdate),
)
async def update_commerce(
    principal: Principal = Depends(manage),
    commerce_id: uuid.UUID = Depends(_commerce_id),
    data: CommerceUpdate = Depends(
        body_of(CommerceUpdate, refused=immutable("external_id", "is_placeholder"))
    ),
    session: AsyncSession = DbSession,
) -> CommerceDetailRead:
    bundle = await service.update_commerce(session, principal.require_tenant(), commerce_id, data)
    return _detail(bundle)


@router.delete("/{id}", status_code=204, summary="Deactivate a commerce (idempotent)")
async def deactivate_commerce(
    principal: Principal = Depends(manage),
    commerce_id: uuid.UUID = Depends(_commerce_id),
    session: AsyncSession = DbSession,
) -> Response:
    await service.deactivate(session, principal.require_tenant(), commerce_id)
    return Response(status_code=204)


# --- addresses ---------------------------------------------------------------------------------


@router.post(
    "/{commerceId}/addresses",
    status_code=201,
    response_model=AddressRead,
    summary="Add an address",
    openapi_extra=openapi_body(AddressCreate),
)
async def create_address(
    principal: Principal = Depends(manage),
    data: AddressCreate = Depends(body_of(AddressCreate)),
    commerce: Commerce = Depends(_path_commerce),
    session: AsyncSession = DbSession,
) -> AddressRead:
    address = await children.add_address(session, principal.require_tenant(), commerce, data)
    return AddressRead.of(address)


@router.patch(
    "/{commerceId}/addresses/{addressId}",
    response_model=AddressRead,
    summary="Update an address",
    openapi_extra=openapi_body(AddressUpdate),
)
async def update_address(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    address_id: Annotated[str, Path(alias="addressId"), AS_UUID],
    data: AddressUpdate = Depends(
        body_of(AddressUpdate, refused=immutable("source", "source_ref"))
    ),
    session: AsyncSession = DbSession,
) -> AddressRead:
    address = await children.update_address(
        session,
        principal.require_tenant(),
        parse_uuid("commerceId", commerce_id),
        parse_uuid("addressId", address_id),
        data,
    )
    return AddressRead.of(address)


@router.delete(
    "/{commerceId}/addresses/{addressId}",
    status_code=204,
    summary="Delete an address permanently",
)
async def delete_address(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    address_id: Annotated[str, Path(alias="addressId"), AS_UUID],
    session: AsyncSession = DbSession,
) -> Response:
    await children.delete_address(
        session,
        principal.require_tenant(),
        parse_uuid("commerceId", commerce_id),
        parse_uuid("addressId", address_id),
    )
    return Response(status_code=204)


# --- commerce users and roles ------------------------------------------------------------------


@router.post(
    "/{commerceId}/users",
    status_code=201,
    response_model=CommerceUserRead,
    summary="Add a commerce user (with roles and contacts)",
    openapi_extra=openapi_body(CommerceUserCreate),
)
async def create_user(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    data: CommerceUserCreate = Depends(body_of(CommerceUserCreate)),
    session: AsyncSession = DbSession,
) -> CommerceUserRead:
    bundle = await children.add_user(
        session, principal.require_tenant(), parse_uuid("commerceId", commerce_id), data
    )
    return _user(bundle)


_USER_REFUSED = {
    "source": IMMUTABLE,
    "roles": "cannot be changed here; use POST or DELETE /api/commerces/:commerceId/users/:userId/roles",
    "contacts": "cannot be changed here; use /api/commerces/:commerceId/users/:userId/contacts",
}


@router.patch(
    "/{commerceId}/users/{userId}",
    response_model=CommerceUserRead,
    summary="Update a commerce user",
    openapi_extra=openapi_body(CommerceUserUpdate),
)
async def update_user(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    user_id: Annotated[str, Path(alias="userId"), AS_UUID],
    data: CommerceUserUpdate = Depends(body_of(CommerceUserUpdate, refused=_USER_REFUSED)),
    session: AsyncSession = DbSession,
) -> CommerceUserRead:
    bundle = await children.update_user(
        session,
        principal.require_tenant(),
        parse_uuid("commerceId", commerce_id),
        parse_uuid("userId", user_id),
        data,
    )
    return _user(bundle)


@router.post(
    "/{commerceId}/users/{userId}/roles",
    status_code=201,
    response_model=CommerceUserRead,
    summary="Give a commerce user a role (idempotent)",
    openapi_extra=openapi_body(CommerceUserRoleCreate),
)
async def add_role(
    principal: Principal = Depends(manage),
    data: CommerceUserRoleCreate = Depends(body_of(CommerceUserRoleCreate)),
    user: CommerceUser = Depends(_path_user),
    session: AsyncSession = DbSession,
) -> CommerceUserRead:
    return _user(await children.add_role(session, principal.require_tenant(), user, data.role))


@router.delete(
    "/{commerceId}/users/{userId}/roles/{role}",
    status_code=204,
    summary="Take a role from a commerce user",
)
async def remove_role(
    *,
    role: Annotated[str, as_one_of(r.value for r in CommerceUserRole)],
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    user_id: Annotated[str, Path(alias="userId"), AS_UUID],
    session: AsyncSession = DbSession,
) -> Response:
    commerce_uuid = parse_uuid("commerceId", commerce_id)
    user_uuid = parse_uuid("userId", user_id)
    await children.remove_role(
        session, principal.require_tenant(), commerce_uuid, user_uuid, _role(role)
    )
    return Response(status_code=204)


# --- contacts ----------------------------------------------------------------------------------


@router.post(
    "/{commerceId}/users/{userId}/contacts",
    status_code=201,
    response_model=ContactRead,
    summary="Add a contact to a commerce user",
    openapi_extra=openapi_body(ContactCreate),
)
async def create_contact(
    principal: Principal = Depends(manage),
    data: ContactCreate = Depends(body_of(ContactCreate)),
    user: CommerceUser = Depends(_path_user),
    session: AsyncSession = DbSession,
) -> ContactRead:
    contact = await children.add_contact(session, principal.require_tenant(), user, data)
    return ContactRead.of(contact)


@router.patch(
    "/{commerceId}/users/{userId}/contacts/{contactId}",
    response_model=ContactRead,
    summary="Update a contact",
    openapi_extra=openapi_body(ContactUpdate),
)
async def update_contact(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    user_id: Annotated[str, Path(alias="userId"), AS_UUID],
    contact_id: Annotated[str, Path(alias="contactId"), AS_UUID],
    data: ContactUpdate = Depends(
        body_of(ContactUpdate, refused=immutable("contact_type", "source"))
    ),
    session: AsyncSession = DbSession,
) -> ContactRead:
    contact = await children.update_contact(
        session,
        principal.require_tenant(),
        parse_uuid("commerceId", commerce_id),
        parse_uuid("userId", user_id),
        parse_uuid("contactId", contact_id),
        data,
    )
    return ContactRead.of(contact)


@router.delete(
    "/{commerceId}/users/{userId}/contacts/{contactId}",
    status_code=204,
    summary="Delete a contact permanently",
)
async def delete_contact(
    *,
    principal: Principal = Depends(manage),
    commerce_id: Annotated[str, Path(alias="commerceId"), AS_UUID],
    user_id: Annotated[str, Path(alias="userId"), AS_UUID],
    contact_id: Annotated[str, Path(alias="contactId"), AS_UUID],
    session: AsyncSession = DbSession,
) -> Response:
    await children.delete_contact(
        session,
        principal.require_tenant(),
        parse_uuid("commerceId", commerce_id),
        parse_uuid("userId", user_id),
        parse_uuid("contactId", contact_id),
    )
    return Response(status_code=204)
