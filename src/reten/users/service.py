"""Users and memberships."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.permissions import sort_roles
from reten.kit.crypto import hash_password
from reten.kit.errors import Conflict
from reten.kit.validators import check_email, normalise_email
from reten.users.models import Membership, User


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
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict("email already exists") from None
    return user


async def add_membership(session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    exists = (
        await session.execute(
            select(Membership.id).where(
                Membership.user_id == user_id, Membership.tenant_id == tenant_id
            )
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
