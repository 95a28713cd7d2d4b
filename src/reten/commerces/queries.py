"""Commerce reads: one commerce, its children, the list (management-api.md §8).

Every read is built by `TenantRepository`, so it cannot leave the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Address,
    Commerce,
    CommerceUser,
    CommerceUserRole,
    CommerceUserRoleLink,
    Contact,
    ContactType,
)
from reten.kit.db import TenantRepository
from reten.kit.errors import NotFound
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.routes.models import RouteCommerce

ADDRESS_FIELDS = (
    "address_alias", "street", "street_number", "unit", "city", "commune", "region",
    "country_code", "formatted_address", "latitude", "longitude",
)  # fmt: skip
ROLE_ORDER = {role.value: i for i, role in enumerate(CommerceUserRole)}
CONTACT_TYPE_ORDER = {kind.value: i for i, kind in enumerate(ContactType)}
SORTS = {"name": Commerce.name, "created_at": Commerce.created_at}


async def get_by_external_id(
    session: AsyncSession, tenant_id: uuid.UUID, external_id: str
) -> Commerce | None:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Commerce).where(Commerce.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass
@dataclass
class UserBundle:
    user: CommerceUser
    roles: list[str]
    contacts: list[Contact]


@dataclass
class CommerceBundle:
    commerce: Commerce
    addresses: list[Address]
    users: list[UserBundle]


@dataclass(frozen=True)
class CommerceFilters:
    search: str | None = None
    external_id: str | None = None
    global_external_id: str | None = None
    tax_id: str | None = None
    is_active: bool | None = None
    is_placeholder: bool | None = None
    route_id: uuid.UUID | None = None


def fresh(stmt: Select[Any]) -> Select[Any]:
    # Bulk statements change rows behind the identity map; reads that build a response must
    # see the stored values, not the objects loaded earlier in the request.
    return stmt.execution_options(populate_existing=True)


async def get_commerce(session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID) -> Commerce:
    commerce = await TenantRepository(session, tenant_id).get(Commerce, id_)
    if commerce is None:
        raise NotFound("Commerce not found")
    return commerce


async def get_user(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, user_id: uuid.UUID
) -> CommerceUser:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(CommerceUser).where(
        CommerceUser.id == user_id, CommerceUser.commerce_id == commerce_id
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        await get_commerce(session, tenant_id, commerce_id)
        raise NotFound("Commerce user not found")
    return user


async def get_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, address_id: uuid.UUID
) -> Address:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Address).where(Address.id == address_id, Address.commerce_id == commerce_id)
    address = (await session.execute(stmt)).scalar_one_or_none()
    if address is None:
        await get_commerce(session, tenant_id, commerce_id)
        raise NotFound("Address not found")
    return address


async def get_contact(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    contact_id: uuid.UUID,
) -> Contact:
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(Contact)
        .join(CommerceUser, CommerceUser.id == Contact.commerce_user_id)
        .where(
            Contact.id == contact_id,
            Contact.commerce_user_id == user_id,
            CommerceUser.commerce_id == commerce_id,
        )
    )
    contact = (await session.execute(stmt)).scalar_one_or_none()
    if contact is None:
        await get_user(session, tenant_id, commerce_id, user_id)
        raise NotFound("Contact not found")
    return contact


async def _user_children(
    session: AsyncSession, tenant_id: uuid.UUID, users: Any
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, list[Contact]]]:
    """Roles and contacts of the users selected by `users` (ids or a subquery of ids), in the
    response order: roles in the enum's order, contacts by type then primary first."""
    repo = TenantRepository(session, tenant_id)
    roles: dict[uuid.UUID, list[str]] = {}
    role_rows = await session.execute(
        repo.select(CommerceUserRoleLink).where(CommerceUserRoleLink.commerce_user_id.in_(users))
    )
    for link in role_rows.scalars():
        roles.setdefault(link.commerce_user_id, []).append(link.role)
    for held in roles.values():
        held.sort(key=lambda r: ROLE_ORDER.get(r, len(ROLE_ORDER)))
    contacts: dict[uuid.UUID, list[Contact]] = {}
    contact_rows = await session.execute(
        fresh(repo.select(Contact).where(Contact.commerce_user_id.in_(users)))
    )
    for contact in contact_rows.scalars():
        contacts.setdefault(contact.commerce_user_id, []).append(contact)
    for listed in contacts.values():
        listed.sort(
            key=lambda c: (CONTACT_TYPE_ORDER.get(c.type, 99), not c.is_primary, c.created_at, c.id)
        )
    return roles, contacts


async def user_bundle(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> UserBundle:
    repo = TenantRepository(session, tenant_id)
    user = (
        await session.execute(fresh(repo.select(CommerceUser).where(CommerceUser.id == user_id)))
    ).scalar_one()
    roles, contacts = await _user_children(session, tenant_id, [user_id])
    return UserBundle(user, roles.get(user_id, []), contacts.get(user_id, []))


async def bundles(
    session: AsyncSession, tenant_id: uuid.UUID, commerces: Sequence[Commerce]
) -> list[CommerceBundle]:
    """Commerces with every child, in four queries whatever their number (no N+1)."""
    if not commerces:
        return []
    repo = TenantRepository(session, tenant_id)
    ids = [c.id for c in commerces]
    addresses: dict[uuid.UUID, list[Address]] = {}
    address_rows = await session.execute(
        fresh(
            repo.select(Address)
            .where(Address.commerce_id.in_(ids))
            .order_by(Address.is_primary.desc(), Address.created_at, Address.id)
        )
    )
    for address in address_rows.scalars():
        addresses.setdefault(address.commerce_id, []).append(address)
    user_rows = await session.execute(
        fresh(
            repo.select(CommerceUser)
            .where(CommerceUser.commerce_id.in_(ids))
            .order_by(CommerceUser.created_at, CommerceUser.id)
        )
    )
    users = list(user_rows.scalars())
    roles: dict[uuid.UUID, list[str]] = {}
    contacts: dict[uuid.UUID, list[Contact]] = {}
    if users:
        of_these = repo.where(CommerceUser, select(CommerceUser.id)).where(
            CommerceUser.commerce_id.in_(ids)
        )
        roles, contacts = await _user_children(session, tenant_id, of_these)
    by_commerce: dict[uuid.UUID, list[UserBundle]] = {}
    for user in users:
        by_commerce.setdefault(user.commerce_id, []).append(
            UserBundle(user, roles.get(user.id, []), contacts.get(user.id, []))
        )
    return [
        CommerceBundle(c, addresses.get(c.id, []), by_commerce.get(c.id, [])) for c in commerces
    ]


async def get_detail(session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID) -> CommerceBundle:
    repo = TenantRepository(session, tenant_id)
    commerce = (
        await session.execute(fresh(repo.select(Commerce).where(Commerce.id == id_)))
    ).scalar_one_or_none()
    if commerce is None:
        raise NotFound("Commerce not found")
    return (await bundles(session, tenant_id, [commerce]))[0]


async def list_commerces(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: CommerceFilters,
    *,
    sort: str | None,
    page: PageParams,
) -> tuple[list[Commerce], int, bool]:
    order_by = parse_sort(sort, SORTS, "name", Commerce.id)
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Commerce)
    if filters.search is not None:
        stmt = stmt.where(search_clause(filters.search, [Commerce.name, Commerce.external_id]))
    exact: list[tuple[Any, Any]] = [
        (Commerce.external_id, filters.external_id),
        (Commerce.global_external_id, filters.global_external_id),
        (Commerce.tax_id, filters.tax_id),
        (Commerce.is_active, filters.is_active),
        (Commerce.is_placeholder, filters.is_placeholder),
    ]
    for column, value in exact:
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.route_id is not None:
        on_route = repo.where(RouteCommerce, select(RouteCommerce.commerce_id)).where(
            RouteCommerce.route_id == filters.route_id
        )
        stmt = stmt.where(Commerce.id.in_(on_route))
    return await paginate(session, stmt, order_by, page)
