"""Tenants: creation (with its first administrator) and the caller's memberships."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.permissions import Role
from reten.kit.errors import Conflict
from reten.tenants.models import Tenant
from reten.tenants.schemas import TenantSetup
from reten.users import service as users
from reten.users.models import Membership


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def setup_tenant(session: AsyncSession, data: TenantSetup) -> Tenant:
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
