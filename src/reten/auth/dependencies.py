"""Request authentication and authorisation as FastAPI dependencies.

Every route declares its access through exactly one of these factories; each returned
dependency carries `__reten_access__` so a test over the route table can prove that no route
was left without a permission or an explicit public mark.

Classes (management-api.md §1.2): public, session (JWT), tenant-user (JWT + x-tenant-id),
tenant (JWT + x-tenant-id, or API key), integration (API key only).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import Request
from sqlalchemy import select

from reten.api_keys import service as api_keys
from reten.auth.permissions import Permission, permissions_for_roles
from reten.auth.principal import Principal, PrincipalKind
from reten.auth.tokens import decode_access_token
from reten.kit.errors import (
    BadRequest,
    PermissionDenied,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from reten.runtime import Runtime, get_runtime
from reten.tenants.models import Tenant
from reten.users.models import Membership, User

INVALID_KEY = "API key missing or invalid"
INVALID_TOKEN = "Invalid or expired access token"
NEEDS_USER_TOKEN = "This endpoint requires a user access token"

Dependency = Callable[..., Awaitable[Any]]


def _mark(fn: Dependency, access: str, permission: Permission | None) -> Dependency:
    fn.__reten_access__ = (access, permission)  # type: ignore[attr-defined]
    return fn


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(INVALID_TOKEN)
    return token.strip()


async def _user_from_token(runtime: Runtime, token: str) -> User:
    user_id = decode_access_token(token, runtime.settings.secret_key)
    if user_id is None:
        raise Unauthorized(INVALID_TOKEN)
    async with runtime.db.sessionmaker() as session:
        user = await session.get(User, user_id)
    # Roles and the active flag are read from storage on every request, never from claims.
    if user is None or not user.is_active:
        raise Unauthorized(INVALID_TOKEN)
    return user


async def _token_user(runtime: Runtime, request: Request) -> User:
    """The user of a request that must carry a user's access token and no API key."""
    token = _bearer(request)
    has_key = request.headers.get("x-api-key") is not None
    if token is None:
        raise Unauthorized(NEEDS_USER_TOKEN if has_key else "Missing credentials")
    if has_key:
        raise BadRequest("Send either Authorization or x-api-key, not both")
    return await _user_from_token(runtime, token)


def user_principal(user: User, tenant_id: uuid.UUID | None) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        user_id=user.id,
        email=user.email,
        roles=tuple(user.roles),
        permissions=permissions_for_roles(user.roles),
        tenant_id=tenant_id,
    )


async def _tenant_from_header(runtime: Runtime, request: Request, user: User) -> uuid.UUID:
    raw = request.headers.get("x-tenant-id")
    try:
        tenant_id = uuid.UUID(raw) if raw else None
    except ValueError:
        tenant_id = None
    if tenant_id is None:
        raise ValidationFailed.one("x-tenant-id", "header is required and must be a UUID")
    async with runtime.db.sessionmaker() as session:
        tenant = await session.get(Tenant, tenant_id)
        member = (
            await session.execute(
                select(Membership.id).where(
                    Membership.user_id == user.id, Membership.tenant_id == tenant_id
                )
            )
        ).scalar_one_or_none()
    if tenant is None or (member is None and "SUPER_ADMIN" not in user.roles):
        raise PermissionDenied("Access to this tenant is not allowed")
    return tenant_id


async def _api_key_principal(runtime: Runtime, request: Request, plaintext: str) -> Principal:
    verified = await api_keys.verify(runtime.db, runtime.api_key_cache, plaintext)
    if verified is None:
        raise Unauthorized(INVALID_KEY)
    await api_keys.touch_last_used(
        runtime.db,
        runtime.api_key_last_write,
        verified.key_id,
        runtime.settings.api_key_last_used_interval_seconds,
    )
    # Every request made with a key draws on that key's bucket (integration and management).
    decision = await runtime.limiter.hit(
        f"key:{verified.key_id}", runtime.settings.rate_limit_per_minute
    )
    request.state.ratelimit = decision
    if not decision.allowed:
        raise TooManyRequests(f"Rate limit exceeded: retry in {decision.reset_seconds} s")
    return verified.principal()


async def check_login_rate(runtime: Runtime, client_host: str | None, identifier: str) -> None:
    """The login budget, per client address and per identifier; shared by the API and the panel."""
    limit = runtime.settings.login_rate_limit
    ip = client_host or "unknown"
    for key in (f"login-ip:{ip}", f"login-email:{identifier.strip().lower()}"):
        decision = await runtime.limiter.hit(key, limit)
        if not decision.allowed:
            raise TooManyRequests(
                "Too many login attempts; try again later",
                headers={"Retry-After": str(decision.reset_seconds)},
            )


def check_permission(
    principal: Principal, permission: Permission | None, *, integration: bool = False
) -> Principal:
    # Every later log line of this request names who made it and for which tenant.
    structlog.contextvars.bind_contextvars(
        tenant_id=str(principal.tenant_id) if principal.tenant_id else None,
        principal=f"{principal.kind.value}:{principal.api_key_id or principal.user_id}",
    )
    if permission is not None and permission not in principal.permissions:
        message = (
            "Insufficient permissions"
            if integration
            else (f"Insufficient permissions: requires {permission.value}")
        )
        raise PermissionDenied(message)
    return principal


def public() -> Dependency:
    async def dependency() -> None:
        return None

    return _mark(dependency, "public", None)


def session_user(permission: Permission | None = None) -> Dependency:
    """A user's access token; no tenant context (x-tenant-id is ignored)."""

    async def dependency(request: Request) -> Principal:
        runtime = get_runtime(request)
        user = await _token_user(runtime, request)
        return check_permission(user_principal(user, None), permission)

    return _mark(dependency, "session", permission)


def tenant_user(permission: Permission | None) -> Dependency:
    """A user's access token plus the tenant named by x-tenant-id."""

    async def dependency(request: Request) -> Principal:
        runtime = get_runtime(request)
        user = await _token_user(runtime, request)
        tenant_id = await _tenant_from_header(runtime, request, user)
        return check_permission(user_principal(user, tenant_id), permission)

    return _mark(dependency, "tenant-user", permission)


def tenant_principal(permission: Permission) -> Dependency:
    """A user's token with x-tenant-id, or an API key (its tenant is the key's)."""

    async def dependency(request: Request) -> Principal:
        runtime = get_runtime(request)
        key = request.headers.get("x-api-key")
        has_auth = request.headers.get("authorization") is not None
        if key is not None and has_auth:
            raise BadRequest("Send either Authorization or x-api-key, not both")
        if key is not None:
            principal = await _api_key_principal(runtime, request, key)
            named = request.headers.get("x-tenant-id")
            if named and named.lower() != str(principal.tenant_id):
                raise PermissionDenied("Access to this tenant is not allowed")
            return check_permission(principal, permission)
        token = _bearer(request)
        if token is None:
            raise Unauthorized("Missing credentials")
        user = await _user_from_token(runtime, token)
        tenant_id = await _tenant_from_header(runtime, request, user)
        return check_permission(user_principal(user, tenant_id), permission)

    return _mark(dependency, "tenant", permission)


def integration_key(permission: Permission) -> Dependency:
    """The integration API: an API key in x-api-key and nothing else (integration-api.md)."""

    async def dependency(request: Request) -> Principal:
        runtime = get_runtime(request)
        key = request.headers.get("x-api-key")
        if not key:
            raise Unauthorized(INVALID_KEY)
        principal = await _api_key_principal(runtime, request, key)
        return check_permission(principal, permission, integration=True)

    return _mark(dependency, "integration", permission)
