"""Tenants: creation (with its first administrator) and the caller's memberships."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Activity
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.auth.permissions import Role
from reten.auth.principal import Principal
from reten.kit.actor import Actor
from reten.kit.db import TenantRepository
from reten.kit.errors import Conflict, NotFound
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.results.models import ActivityResult
from reten.tenants.models import Tenant
from reten.tenants.schemas import TenantSetup, TenantUpdate
from reten.users import service as users
from reten.users.models import Membership


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def setup_tenant(session: AsyncSession, data: TenantSetup, *, actor: Actor) -> Tenant:
    """Create the tenant and make its admin a member, all or nothing."""
    if await get_by_slug(session, data.slug) is not None:
        raise Conflict("slug already exists")
    tenant = Tenant(
        id=uuid.uuid4(),
        name=data.name,
        slug=data.slug,
        locale=data.locale.value,
        time_zone=data.time_zone,
    )
    session.add(tenant)
    admin = await users.get_by_email(session, data.admin_email)
    admin_created = admin is None
    if admin is None:
        admin = await users.create_user(
            session,
            email=data.admin_email,
            password=data.admin_password,
            first_name=data.admin_first_name,
            last_name=data.admin_last_name,
            roles=[Role.ADMIN.value],
        )
    elif not {Role.ADMIN.value, Role.SUPER_ADMIN.value} & set(admin.roles):
        raise Conflict("admin_email belongs to an existing user without the ADMIN role")
    await session.flush()
    await users.add_membership(session, admin.id, tenant.id)
    audit.record_object(
        session, tenant.id, actor, AuditAction.TENANT_CREATED, tenant,
        adminId=admin.id, adminEmail=admin.email, adminCreated=admin_created,
    )  # fmt: skip
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("slug already exists") from None
    return tenant


async def list_mine(session: AsyncSession, user_id: uuid.UUID) -> list[Tenant]:
    stmt = (
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.name, Tenant.id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_visible(session: AsyncSession, caller: Principal) -> list[Tenant]:
    """Every tenant for a SUPER_ADMIN; the caller's own tenants for anyone else."""
    if caller.is_super_admin:
        stmt = select(Tenant).order_by(Tenant.name, Tenant.id)
        return list((await session.execute(stmt)).scalars())
    return await list_mine(session, caller.user_id)


SORTS = {"name": Tenant.name, "slug": Tenant.slug, "created_at": Tenant.created_at}


async def list_page(
    session: AsyncSession,
    caller: Principal,
    *,
    search: str | None,
    sort: str | None,
    page: PageParams,
) -> tuple[list[Tenant], int, bool]:
    """One page of `list_visible` (the admin panel's Tenants page), searchable by name or slug."""
    order_by = parse_sort(sort, SORTS, "name", Tenant.id)
    stmt = select(Tenant)
    if not caller.is_super_admin:
        mine = select(Membership.tenant_id).where(Membership.user_id == caller.user_id)
        stmt = stmt.where(Tenant.id.in_(mine))
    if search is not None:
        stmt = stmt.where(search_clause(search, [Tenant.name, Tenant.slug]))
    return await paginate(session, stmt, order_by, page)


async def _get(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


async def update_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, data: TenantUpdate, *, actor: Actor
) -> Tenant:
    tenant = await _get(session, tenant_id)
    before = audit.describe(tenant)
    if data.slug is not None and data.slug != tenant.slug and await get_by_slug(session, data.slug):
        raise Conflict("slug already exists")
    for field in ("name", "slug", "time_zone"):
        value = getattr(data, field)
        if value is not None:
            setattr(tenant, field, value)
    if data.locale is not None:
        tenant.locale = data.locale.value
    audit.record_changed(session, tenant.id, actor, AuditAction.TENANT_UPDATED, tenant, before)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("slug already exists") from None
    return tenant


async def delete_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Delete the tenant with all of its data and memberships (users are kept).

    Tenant-scoped tables reference the tenant with ON DELETE CASCADE; its API keys go with it,
    so they stop authenticating (within the verification cache's few seconds elsewhere).
    """
    tenant = await _get(session, tenant_id)
    # Activity data first: activities and results reference commerces, routes and operators with
    # RESTRICT (no single record may vanish from under an activity), so they must go before the
    # cascade from the tenant reaches those records.
    repo = TenantRepository(session, tenant_id)
    await session.execute(repo.delete(ActivityResult))
    await session.execute(repo.delete(Activity))
    await session.delete(tenant)
    await session.commit()
