"""API keys: creation (plaintext shown once), listing, revocation and verification.

Verification is on the hot path of every integration request, so the outcome of a lookup is
cached per process for `RETEN_API_KEY_CACHE_SECONDS` (≤ 5 s): a revocation, an owner change or an
expiry reaches every process within that delay without a shared cache.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reten.api_keys.models import ApiKey
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.auth.permissions import (
    Permission,
    Role,
    highest_role,
    permissions_for_roles,
    role_rank,
    sort_permissions,
)
from reten.auth.principal import Principal, PrincipalKind
from reten.kit.actor import Actor
from reten.kit.cache import TTLCache
from reten.kit.crypto import sha256_hex
from reten.kit.db import Database, TenantRepository
from reten.kit.errors import BadRequest, NotFound, PermissionDenied, ValidationFailed
from reten.kit.listing import paginate, parse_sort
from reten.kit.pagination import PageParams
from reten.kit.time import ensure_utc, utcnow
from reten.tenants.models import Tenant
from reten.users.models import Membership, User

log = structlog.get_logger("reten.api_keys")

KEY_PATTERN = re.compile(r"^rtn_sk_[0-9a-f]{56}$")
KEY_PREFIX_LENGTH = 15


@dataclass(frozen=True)
class VerifiedKey:
    key_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    owner_email: str
    owner_roles: tuple[str, ...]
    permissions: frozenset[Permission]
    expires_at: datetime | None
    tenant_locale: str

    def principal(self) -> Principal:
        return Principal(
            kind=PrincipalKind.API_KEY,
            user_id=self.owner_id,
            email=self.owner_email,
            roles=self.owner_roles,
            permissions=self.permissions,
            tenant_id=self.tenant_id,
            api_key_id=self.key_id,
            api_key_name=self.name,
            tenant_locale=self.tenant_locale,
        )


def generate_key() -> tuple[str, str, str]:
    """Return (plaintext, prefix, sha256 hex) of a new key."""
    plaintext = "rtn_sk_" + secrets.token_bytes(28).hex()
    return plaintext, plaintext[:KEY_PREFIX_LENGTH], sha256_hex(plaintext)


async def _load(session: AsyncSession, key_hash: str) -> VerifiedKey | None:
    row = (
        await session.execute(
            select(ApiKey, User, Membership.id, Tenant.locale)
            .join(User, User.id == ApiKey.user_id)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .outerjoin(
                Membership,
                (Membership.user_id == ApiKey.user_id) & (Membership.tenant_id == ApiKey.tenant_id),
            )
            .where(ApiKey.key_hash == key_hash)
        )
    ).first()
    if row is None:
        log.info("api_key_rejected", reason="unknown")
        return None
    key, owner, membership_id, locale = row
    if key.revoked_at is not None:
        log.info("api_key_rejected", reason="revoked", key_id=str(key.id))
        return None
    if not owner.is_active:
        log.info("api_key_rejected", reason="owner_inactive", key_id=str(key.id))
        return None
    if membership_id is None and Role.SUPER_ADMIN.value not in owner.roles:
        log.info("api_key_rejected", reason="owner_not_member", key_id=str(key.id))
        return None
    # Effective permissions: what the key was given that its owner still holds.
    held = permissions_for_roles(owner.roles)
    perms = frozenset(Permission(p) for p in key.permissions if p in Permission.__members__) & held
    return VerifiedKey(
        key_id=key.id,
        tenant_id=key.tenant_id,
        name=key.name,
        owner_id=owner.id,
        owner_email=owner.email,
        owner_roles=tuple(owner.roles),
        permissions=perms,
        expires_at=key.expires_at,
        tenant_locale=locale,
    )


async def verify(
    db: Database, cache: TTLCache[VerifiedKey | None], plaintext: str | None
) -> VerifiedKey | None:
    """The key's identity, or None for any reason a key is unusable (the caller says 401)."""
    if not plaintext or not KEY_PATTERN.match(plaintext):
        log.info("api_key_rejected", reason="malformed")
        return None
    key_hash = sha256_hex(plaintext)

    async def load() -> VerifiedKey | None:
        async with db.sessionmaker() as session:
            return await _load(session, key_hash)

    verified = await cache.get_or_load(key_hash, load)
    if verified is None:
        return None
    if verified.expires_at is not None and verified.expires_at <= utcnow():
        log.info("api_key_rejected", reason="expired", key_id=str(verified.key_id))
        return None
    return verified


async def touch_last_used(
    db: Database, last_write: dict[uuid.UUID, float], key_id: uuid.UUID, interval: int
) -> None:
    """Record use at most once per `interval` per key, so a busy key never serialises on its row.

    The process skips the write when it wrote recently; the WHERE clause makes other processes'
    writes count too.
    """
    now_mono = time.monotonic()
    if now_mono - last_write.get(key_id, float("-inf")) < interval:
        return
    last_write[key_id] = now_mono
    now = utcnow()
    async with db.sessionmaker() as session:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < now - timedelta(seconds=interval),
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


def normalise_permissions(names: list[str]) -> list[str]:
    details = []
    wanted: set[str] = set()
    for i, name in enumerate(names):
        upper = name.strip().upper() if isinstance(name, str) else ""
        if upper not in Permission.__members__:
            details.append(
                {"field": f"permissions[{i}]", "message": f"unknown permission {name!r}"}
            )
        else:
            wanted.add(upper)
    if details:
        raise ValidationFailed(details)
    if not wanted:
        raise ValidationFailed.one("permissions", "must contain at least one permission")
    return sort_permissions(wanted)


async def create_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    owner_id: uuid.UUID,
    owner_permissions: frozenset[Permission],
    name: str,
    permissions: list[str],
    expires_at: datetime | None,
    actor: Actor,
) -> tuple[ApiKey, str]:
    perms = normalise_permissions(permissions)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed.one("expires_at", "must be in the future")
    missing = [p for p in perms if Permission(p) not in owner_permissions]
    if missing:
        raise PermissionDenied(f"Cannot grant permissions you do not hold: {', '.join(missing)}")
    plaintext, prefix, key_hash = generate_key()
    repo = TenantRepository(session, tenant_id)
    key = repo.add(
        ApiKey(
            id=uuid.uuid4(),
            user_id=owner_id,
            name=name,
            key_prefix=prefix,
            key_hash=key_hash,
            permissions=perms,
            expires_at=expires_at,
        )
    )
    audit.record_object(session, tenant_id, actor, AuditAction.API_KEY_CREATED, key)
    await session.commit()
    log.info("api_key_created", key_id=str(key.id), tenant_id=str(tenant_id), prefix=prefix)
    return key, plaintext


def may_list_all_keys(principal: Principal) -> bool:
    role = principal.highest_role
    return role is not None and role_rank(role) >= role_rank(Role.ADMIN)


def may_revoke(principal: Principal, owner_id: uuid.UUID, owner_roles: list[str] | None) -> bool:
    """Own keys always; another user's key with a strictly higher role (rule H)."""
    if owner_id == principal.user_id:
        return True
    owner_role = highest_role(owner_roles) if owner_roles else None
    mine = principal.highest_role
    return mine is not None and (owner_role is None or role_rank(mine) > role_rank(owner_role))


async def list_keys(session: AsyncSession, principal: Principal, *, all_keys: bool) -> list[ApiKey]:
    repo = TenantRepository(session, principal.require_tenant())
    stmt = repo.select(ApiKey)
    if all_keys:
        if not may_list_all_keys(principal):
            raise PermissionDenied("Listing every key of the tenant requires the ADMIN role")
    else:
        stmt = stmt.where(ApiKey.user_id == principal.user_id)
    stmt = stmt.order_by(ApiKey.created_at.desc(), ApiKey.id)
    return list((await session.execute(stmt)).scalars())


async def revoke_keys_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke every live key of a user, in the caller's transaction. Keys are revoked, not
    deleted: their records keep the userId for the audit trail."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def status_of(key: ApiKey, now: datetime) -> KeyStatus:
    if key.revoked_at is not None:
        return KeyStatus.REVOKED
    if key.expires_at is not None and ensure_utc(key.expires_at) <= now:
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


@dataclass(frozen=True)
class KeyRow:
    """A listed key with its owner, and what the caller may do with it."""

    key: ApiKey
    owner_email: str | None
    status: KeyStatus
    may_revoke: bool


KEY_SORTS = {
    "created_at": ApiKey.created_at,
    "name": ApiKey.name,
    "last_used_at": ApiKey.last_used_at,
}


async def list_keys_page(
    session: AsyncSession,
    principal: Principal,
    *,
    all_keys: bool,
    status: KeyStatus | None,
    sort: str | None,
    page: PageParams,
) -> tuple[list[KeyRow], int, bool]:
    """One page of the caller's keys (every key of the tenant with `all_keys`, ADMIN+)."""
    if all_keys and not may_list_all_keys(principal):
        raise PermissionDenied("Listing every key of the tenant requires the ADMIN role")
    stmt = _key_rows(session, principal)
    if not all_keys:
        stmt = stmt.where(ApiKey.user_id == principal.user_id)
    now = utcnow()
    if status == KeyStatus.REVOKED:
        stmt = stmt.where(ApiKey.revoked_at.is_not(None))
    elif status == KeyStatus.EXPIRED:
        stmt = stmt.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    elif status == KeyStatus.ACTIVE:
        stmt = stmt.where(
            ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
        )
    order = parse_sort(sort, KEY_SORTS, "-created_at", ApiKey.id)
    rows, total, estimate = await paginate(session, stmt, order, page, scalars=False)
    return [_key_row(principal, row, now) for row in rows], total, estimate


def _key_rows(session: AsyncSession, principal: Principal) -> Any:
    repo = TenantRepository(session, principal.require_tenant())
    return repo.where(ApiKey, select(ApiKey, User.email, User.roles)).outerjoin(
        User, User.id == ApiKey.user_id
    )


def _key_row(principal: Principal, row: Any, now: datetime) -> KeyRow:
    key, email, roles = row
    return KeyRow(
        key=key,
        owner_email=email,
        status=status_of(key, now),
        may_revoke=key.revoked_at is None and may_revoke(principal, key.user_id, roles),
    )


async def get_key_row(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> KeyRow:
    """One key of the caller's tenant; another tenant's key is not found."""
    row = (await session.execute(_key_rows(session, principal).where(ApiKey.id == key_id))).first()
    if row is None:
        raise NotFound("API key not found")
    return _key_row(principal, row, utcnow())


async def revoke_key(
    session: AsyncSession,
    principal: Principal,
    key_id: uuid.UUID,
    cache: TTLCache[VerifiedKey | None],
) -> None:
    repo = TenantRepository(session, principal.require_tenant())
    key = await repo.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key not found")
    if key.user_id != principal.user_id:
        owner = await session.get(User, key.user_id)
        if not may_revoke(principal, key.user_id, owner.roles if owner else None):
            raise PermissionDenied("Cannot revoke this API key")
    if key.revoked_at is not None:
        raise BadRequest("API key already revoked")
    key.revoked_at = utcnow()
    audit.record_object(session, key.tenant_id, principal.actor(), AuditAction.API_KEY_REVOKED, key)
    await session.commit()
    cache.pop(key.key_hash)  # this process stops accepting it at once; others within the TTL
    log.info("api_key_revoked", key_id=str(key.id))
