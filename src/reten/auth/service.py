"""Login, refresh-token rotation and logout (management-api.md §4, A5)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.tokens import create_access_token, new_refresh_token
from reten.config import Settings
from reten.kit.crypto import sha256_hex, verify_password
from reten.kit.errors import Unauthorized
from reten.kit.time import utcnow
from reten.users import service as users
from reten.users.models import RefreshToken, User

log = structlog.get_logger("reten.auth")

INVALID_LOGIN = "Invalid email or password"
INVALID_REFRESH = "Invalid or expired refresh token"


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


async def _issue_refresh(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, family_id: uuid.UUID
) -> str:
    token = new_refresh_token()
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            user_id=user_id,
            family_id=family_id,
            token_hash=sha256_hex(token),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return token


async def login(
    session: AsyncSession, settings: Settings, identifier: str, password: str
) -> IssuedTokens:
    user = await users.get_by_email(session, identifier)
    # One argon2 verification on every path, so timing does not reveal whether the email exists.
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        log.info(
            "login_failed", reason="unknown" if user is None else ("inactive" if ok else "password")
        )
        raise Unauthorized(INVALID_LOGIN)
    refresh = await _issue_refresh(session, settings, user.id, uuid.uuid4())
    await session.commit()
    access = create_access_token(user.id, settings.secret_key, settings.access_token_ttl_seconds)
    return IssuedTokens(user, access, refresh, settings.access_token_ttl_seconds)


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id)
        .values(is_family_revoked=True, revoked_at=utcnow())
    )


async def refresh(session: AsyncSession, settings: Settings, token: str | None) -> IssuedTokens:
    if not token:
        raise Unauthorized(INVALID_REFRESH)
    row = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(token))
        )
    ).scalar_one_or_none()
    if row is None or row.is_family_revoked or row.expires_at <= utcnow():
        raise Unauthorized(INVALID_REFRESH)
    if row.used_at is not None:
        # A rotated token came back: someone holds a copy. Revoke the whole family.
        await _revoke_family(session, row.family_id)
        await session.commit()
        log.warning("refresh_token_reuse", family_id=str(row.family_id))
        raise Unauthorized(INVALID_REFRESH)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID_REFRESH)
    # Compare-and-set so two concurrent refreshes of one token cannot both succeed.
    marked = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_family(session, row.family_id)
        await session.commit()
        raise Unauthorized(INVALID_REFRESH)
    new_token = await _issue_refresh(session, settings, user.id, row.family_id)
    await session.commit()
    access = create_access_token(user.id, settings.secret_key, settings.access_token_ttl_seconds)
    return IssuedTokens(user, access, new_token, settings.access_token_ttl_seconds)


async def logout(session: AsyncSession, token: str | None) -> None:
    if not token:
        return
    row = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(token))
        )
    ).scalar_one_or_none()
    if row is not None:
        await _revoke_family(session, row.family_id)
        await session.commit()


async def user_of_session(session: AsyncSession, token: str | None) -> User | None:
    """The active user whose login issued `token`, while that login is still open.

    The admin panel keeps the refresh token of its login as its session handle (never rotating
    it), so logging out, a password reset and deactivation end panel sessions exactly as they
    end API sessions. A token rotated through /api/auth/refresh no longer opens the panel.
    """
    if not token:
        return None
    row = (
        await session.execute(
            select(RefreshToken, User)
            .join(User, User.id == RefreshToken.user_id)
            .where(RefreshToken.token_hash == sha256_hex(token))
        )
    ).first()
    if row is None:
        return None
    refresh_row, user = row
    if (
        refresh_row.is_family_revoked
        or refresh_row.used_at is not None
        or refresh_row.expires_at <= utcnow()
        or not user.is_active
    ):
        return None
    return user
