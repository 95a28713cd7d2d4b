"""Users and memberships."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import Select, String, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from reten.api_keys import service as api_keys
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.auth.permissions import ROLE_ORDER, Role, may_grant, outranks, sort_roles
from reten.auth.principal import Principal
from reten.kit.actor import Actor
from reten.kit.crypto import hash_password, sha256_hex, verify_password
from reten.kit.db import TenantRepository
from reten.kit.errors import BadRequest, Conflict, NotFound, PermissionDenied
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.kit.time import utcnow
from reten.kit.unique import unique_as_conflict
from reten.kit.validators import check_email, normalise_email
from reten.tenants.models import Tenant
from reten.users.models import Membership, RefreshToken, User


def valid_email(value: str) -> bool:
    try:
        check_email(value)
    except ValueError:
        return False
    return True


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == normalise_email(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    roles: list[str],
) -> User:
    """Add a user to the session (the caller commits); 409 when the email is taken."""
    email = normalise_email(email)
    if await get_by_email(session, email) is not None:
        raise Conflict("email already exists")
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=hash_password(password),
        first_name=first_name,
        last_name=last_name,
        roles=sort_roles(roles),
        is_active=True,
    )
    session.add(user)
    async with unique_as_conflict(session):
        await session.flush()
    return user


async def add_membership(session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    exists = (
        await session.execute(
            TenantRepository(session, tenant_id)
            .where(Membership, select(Membership.id))
            .where(Membership.user_id == user_id)
        )
    ).scalar_one_or_none()
    if exists is None:
        session.add(Membership(id=uuid.uuid4(), user_id=user_id, tenant_id=tenant_id))


async def tenant_ids_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = (
        select(Membership.tenant_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return list((await session.execute(stmt)).scalars())


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    user.password_hash = hash_password(password)


# --- management of a tenant's users (management-api.md §4.5, §4.6, §5) -------------------------


def _role_clause(role: str) -> ColumnElement[bool]:
    # Roles are a JSON array of enum names; a quoted-name match is exact ("ADMIN" never matches
    # "SUPER_ADMIN") and works the same on SQLite and PostgreSQL.
    return cast(User.roles, String).like(f'%"{role}"%')


def _in_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Select[Any]:
    # Users are global (one login, several tenants); what belongs to a tenant is the
    # membership, so the tenant filter is on it.
    members = select(User).join(Membership, Membership.user_id == User.id)
    return TenantRepository(session, tenant_id).where(Membership, members)


async def list_members(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    search: str | None,
    role: str | None,
    is_active: bool | None,
    sort: str | None,
    page: PageParams,
) -> tuple[list[User], int, bool]:
    stmt = _in_tenant(session, tenant_id)
    if search:
        stmt = stmt.where(search_clause(search, [User.email, User.first_name, User.last_name]))
    if role:
        stmt = stmt.where(_role_clause(role))
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    order = parse_sort(sort, {"email": User.email, "created_at": User.created_at}, "email", User.id)
    return await paginate(session, stmt, order, page)


async def get_member(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = (
        await session.execute(_in_tenant(session, tenant_id).where(User.id == user_id))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("User not found")
    return user  # type: ignore[no-any-return]


def _check_grant(caller: Principal, roles: list[str]) -> None:
    for role in roles:
        if not may_grant(caller.roles, role):
            raise PermissionDenied(f"Cannot grant role {role}")


async def create_member(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    caller: Principal,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    roles: list[str],
) -> User:
    _check_grant(caller, roles)
    user = await create_user(
        session,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        roles=roles,
    )
    await add_membership(session, user.id, tenant_id)
    audit.record_object(session, tenant_id, caller.actor(), AuditAction.USER_CREATED, user)
    async with unique_as_conflict(session):  # a concurrent create with the same email won
        await session.commit()
    return user


async def _keeps_an_admin(session: AsyncSession, user: User) -> None:
    """A tenant always keeps at least one active ADMIN.

    Called before `user` stops being an active ADMIN; refuses when a tenant of theirs would be
    left without one. (A SUPER_ADMIN member does not count: platform operators are not the
    tenant's administrators.)
    """
    if not user.is_active or Role.ADMIN.value not in user.roles:
        return
    tenants = (
        await session.execute(
            select(Tenant.id, Tenant.slug)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user.id)
        )
    ).all()
    for tenant_id, slug in tenants:
        others = await session.execute(
            _in_tenant(session, tenant_id)
            .with_only_columns(func.count())
            .where(
                User.id != user.id,
                User.is_active.is_(True),
                _role_clause(Role.ADMIN.value),
            )
        )
        if int(others.scalar_one()) == 0:
            raise BadRequest(f"Tenant {slug} must keep at least one active ADMIN")


def _check_rank(caller: Principal, target: User, message: str) -> None:
    if not outranks(caller.roles, target.roles):
        raise PermissionDenied(message)


async def revoke_refresh_tokens(
    session: AsyncSession, user_id: uuid.UUID, *, except_family: uuid.UUID | None = None
) -> None:
    stmt = update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.is_family_revoked.is_(False)
    )
    if except_family is not None:
        stmt = stmt.where(RefreshToken.family_id != except_family)
    await session.execute(stmt.values(is_family_revoked=True, revoked_at=utcnow()))


async def update_member(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    caller: Principal,
    user_id: uuid.UUID,
    *,
    first_name: str | None,
    last_name: str | None,
    is_active: bool | None,
) -> User:
    user = await get_member(session, tenant_id, user_id)
    _check_rank(caller, user, "Cannot modify a user at the same or a higher role level")
    before = audit.describe(user)
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    if is_active is False and user.is_active:
        await _keeps_an_admin(session, user)
        user.is_active = False
        # Their API keys stop authenticating through the owner check (not revoked: reactivation
        # restores them); their sessions end now.
        await revoke_refresh_tokens(session, user.id)
    elif is_active is True:
        user.is_active = True
    audit.record_changed(
        session, tenant_id, caller.actor(), _update_action(before, user), user, before
    )
    await session.commit()
    return user


async def set_roles(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    caller: Principal,
    user_id: uuid.UUID,
    roles: list[str],
) -> User:
    user = await get_member(session, tenant_id, user_id)
    _check_rank(caller, user, "Cannot modify roles of a user at the same or a higher level")
    _check_grant(caller, roles)
    if Role.ADMIN.value not in roles:
        await _keeps_an_admin(session, user)
    before = audit.describe(user)
    user.roles = sort_roles(roles)
    audit.record_changed(
        session, tenant_id, caller.actor(), AuditAction.USER_ROLES_CHANGED, user, before
    )
    await session.commit()
    return user


async def delete_member(
    session: AsyncSession, tenant_id: uuid.UUID, caller: Principal, user_id: uuid.UUID
) -> None:
    user = await get_member(session, tenant_id, user_id)
    _check_rank(caller, user, "Cannot delete a user at the same or a higher role level")
    await _keeps_an_admin(session, user)
    audit.record_object(session, tenant_id, caller.actor(), AuditAction.USER_DELETED, user)
    await api_keys.revoke_keys_of(session, user.id)
    # Memberships and refresh tokens go with the user (ON DELETE CASCADE); the email is free again.
    await session.execute(delete(Membership).where(Membership.user_id == user.id))
    await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    await session.delete(user)
    await session.commit()


async def reset_password(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    caller: Principal,
    user_id: uuid.UUID,
    new_password: str,
) -> None:
    user = await get_member(session, tenant_id, user_id)
    _check_rank(
        caller, user, "Cannot reset the password of a user at the same or a higher role level"
    )
    await set_password(session, user, new_password)
    await revoke_refresh_tokens(session, user.id)
    audit.record(
        session, tenant_id, caller.actor(), AuditAction.USER_PASSWORD_RESET, audit.target_of(user)
    )
    await session.commit()


async def reset_my_password(
    session: AsyncSession,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    *,
    keep_family: uuid.UUID | None,
    actor: Actor,
) -> None:
    user = await session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current_password):
        raise BadRequest("Current password is incorrect")
    await set_password(session, user, new_password)
    await revoke_refresh_tokens(session, user.id, except_family=keep_family)
    # Session-class: no tenant in the request, so each tenant of the user sees the change.
    for tenant_id in await tenant_ids_of(session, user.id):
        audit.record(
            session, tenant_id, actor, AuditAction.USER_PASSWORD_CHANGED, audit.target_of(user)
        )
    await session.commit()


def _update_action(before: dict[str, Any], user: User) -> AuditAction:
    """A PATCH that switches the user off or on is recorded as that; any other as an update."""
    if before["isActive"] and not user.is_active:
        return AuditAction.USER_DEACTIVATED
    if not before["isActive"] and user.is_active:
        return AuditAction.USER_REACTIVATED
    return AuditAction.USER_UPDATED


async def family_of(session: AsyncSession, refresh_token: str | None) -> uuid.UUID | None:
    if not refresh_token:
        return None
    stmt = select(RefreshToken.family_id).where(
        RefreshToken.token_hash == sha256_hex(refresh_token)
    )
    found: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def first_admin(session: AsyncSession, tenant_id: uuid.UUID) -> User | None:
    """The tenant's first active ADMIN, by membership age: the default owner of what the CLI
    creates for a tenant."""
    stmt = (
        _in_tenant(session, tenant_id)
        .where(User.is_active.is_(True), _role_clause(Role.ADMIN.value))
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
    )
    admin: User | None = (await session.execute(stmt)).scalars().first()
    return admin


# --- what a caller may do to a user (the panel shows only the buttons that would succeed) ------


def grantable_roles(caller: Principal) -> list[str]:
    """The roles `caller` may grant (rule G), highest first."""
    return [r.value for r in ROLE_ORDER if may_grant(caller.roles, r.value)]


def may_manage(caller: Principal, user: User) -> bool:
    """Rule H: only a caller of a strictly higher role changes, resets or deactivates `user`."""
    return outranks(caller.roles, user.roles)


def temporary_password() -> str:
    """A password for a new or reset user, shown once to the administrator who set it."""
    return secrets.token_urlsafe(12)
