"""Recording and reading the audit trail.

`record` is the one way an event is written. It only adds the row to the caller's session, so
the event commits with the change it describes and a change that fails (validation, 409, a
rolled-back commit) leaves no event behind. Domain services call it with the actor they were
given; nothing here reads request state.

Events never carry a secret: the describers below list the fields worth keeping for each kind
of object and leave out key material, password hashes, credentials and signing secrets (only
their presence or their key names are kept), and `record` refuses details with a secret-looking
key, so a describer added later cannot leak one by mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reten.activity_config.models import (
    AttributePolicy,
    TargetResolutionConfig,
    TargetResolutionCriteria,
    TaskResultType,
)
from reten.api_keys.models import ApiKey
from reten.audit.models import AuditAction, AuditEvent, AuditTargetType
from reten.dispatch.models import DispatchConfig
from reten.kit.actor import Actor, ActorType
from reten.kit.casing import to_camel
from reten.kit.db import TenantRepository
from reten.kit.listing import paginate, parse_sort
from reten.kit.pagination import PageParams
from reten.kit.time import iso, utcnow
from reten.tenants.models import Tenant
from reten.users.models import User

# Key names (lowercased, "_" and "-" removed) that no event may carry at any depth.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "password", "passwordhash", "newpassword", "currentpassword", "keyhash", "plaintextkey",
        "key", "apikey", "secret", "signingsecret", "previoussecret", "credentials", "token",
        "accesstoken", "refreshtoken", "bearertoken", "authorization",
    }
)  # fmt: skip


class SecretInAuditDetails(ValueError):
    """A programming error: an event's details named a secret."""


@dataclass(frozen=True)
class Target:
    type: AuditTargetType
    id: uuid.UUID | None
    label: str | None


@dataclass(frozen=True)
class AuditFilters:
    action: AuditAction | None = None
    actor_type: ActorType | None = None
    actor_id: uuid.UUID | None = None
    target_type: AuditTargetType | None = None
    target_id: uuid.UUID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


# --- recording -----------------------------------------------------------------------------------


def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: AuditAction,
    target: Target,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the session; it commits (or rolls back) with the caller's change."""
    clean = _json(dict(details or {}))
    _refuse_secrets(clean)
    return TenantRepository(session, tenant_id).add(
        AuditEvent(
            id=uuid.uuid4(),
            occurred_at=utcnow(),
            actor_type=actor.type.value,
            actor_id=actor.id,
            actor_label=_label(actor.label),
            action=action.value,
            target_type=target.type.value,
            target_id=target.id,
            target_label=_label(target.label),
            details=clean,
        )
    )


def record_object(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: AuditAction,
    obj: Any,
    **extra: Any,
) -> AuditEvent:
    """An event whose details are the new object's auditable fields (plus `extra`)."""
    return record(session, tenant_id, actor, action, target_of(obj), {**describe(obj), **extra})


def record_changed(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: AuditAction,
    obj: Any,
    before: Mapping[str, Any],
    **extra: Any,
) -> AuditEvent | None:
    """An event listing each auditable field that differs from `before` (a `describe` taken
    before the change) as `{"from": …, "to": …}`. Nothing changed and nothing extra: no event,
    so a repeated harmless request (activating an active config) does not fill the trail."""
    changes = diff(before, describe(obj))
    if not changes and not extra:
        return None
    return record(session, tenant_id, actor, action, target_of(obj), {"changes": changes, **extra})


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    old, new = _json(dict(before)), _json(dict(after))
    return {
        name: {"from": old.get(name), "to": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


# --- what is kept of each kind of object ----------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """How one kind of object is kept in the trail: its target type, its label, the columns
    kept as they are (camelCased) and those kept derived (copies, flags instead of secrets)."""

    target: AuditTargetType
    label: Callable[[Any], str | None]
    columns: tuple[str, ...]
    derived: Callable[[Any], dict[str, Any]] = lambda obj: {}


# No secret, ever: a key's hash, a password hash, credentials and signing secrets are left out
# (a config says only whether it has a signing secret). Lists and dicts are copied, so a
# `describe` taken before a change is not altered by it.
_KINDS: dict[type, _Kind] = {
    ApiKey: _Kind(
        AuditTargetType.API_KEY,
        lambda o: o.name,
        ("name", "key_prefix", "expires_at", "revoked_at"),
        lambda o: {"ownerId": o.user_id, "permissions": list(o.permissions)},
    ),
    DispatchConfig: _Kind(
        AuditTargetType.DISPATCH_CONFIG,
        lambda o: o.channel,
        ("channel", "dispatch_provider_id", "base_url", "is_active"),
        lambda o: {
            "settings": dict(o.settings or {}),
            "credentialKeys": list(o.credential_keys or []),
            "hasSigningSecret": o.signing_secret_encrypted is not None,
            "previousSecretExpiresAt": o.previous_secret_expires_at,
            "deactivatedReason": o.deactivated_reason,
        },
    ),
    TaskResultType: _Kind(
        AuditTargetType.TASK_RESULT_TYPE,
        lambda o: o.code,
        ("code", "label", "requires_future_scheduled_at", "outcome", "is_active", "sort_order"),
    ),
    AttributePolicy: _Kind(
        AuditTargetType.ATTRIBUTE_POLICY,
        lambda o: None,
        ("attribute_key_id", "resolution_strategy", "resolver_type", "hook_url"),
        lambda o: {"hookTimeoutMs": o.hook_timeout_ms},
    ),
    TargetResolutionConfig: _Kind(
        AuditTargetType.TARGET_RESOLUTION_CONFIG,
        lambda o: f"{o.resolution_strategy} (priority {o.priority})",
        ("resolution_strategy", "fallback_to_commerce_rep", "fallback_to_owner", "priority"),
        lambda o: {"isActive": o.is_active},
    ),
    User: _Kind(
        AuditTargetType.USER,
        lambda o: o.email,
        ("email", "first_name", "last_name", "is_active"),
        lambda o: {"roles": list(o.roles)},
    ),
    Tenant: _Kind(
        AuditTargetType.TENANT, lambda o: o.slug, ("name", "slug", "locale", "time_zone")
    ),
}


def _kind(obj: Any) -> _Kind:
    kind = _KINDS.get(type(obj))
    if kind is None:
        raise TypeError(f"{type(obj).__name__} is not kept in the audit trail")
    return kind


def target_of(obj: Any) -> Target:
    kind = _kind(obj)
    return Target(kind.target, obj.id, kind.label(obj))


def describe(obj: Any) -> dict[str, Any]:
    """The object's auditable fields, camelCase like the API's responses."""
    kind = _kind(obj)
    return {to_camel(c): getattr(obj, c) for c in kind.columns} | kind.derived(obj)


def criteria_of(rows: Sequence[TargetResolutionCriteria]) -> list[dict[str, Any]]:
    """A target resolution config's criteria as kept in its events, by priority."""
    return [
        {
            "criteriaType": r.criteria_type,
            "criteriaConfig": r.criteria_config,
            "priority": r.priority,
        }
        for r in sorted(rows, key=lambda r: r.priority)
    ]


# --- reading -------------------------------------------------------------------------------------


SORTS = {"occurred_at": AuditEvent.occurred_at}


async def list_events(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: AuditFilters,
    params: PageParams,
    *,
    sort: str | None = None,
) -> tuple[list[AuditEvent], int, bool]:
    """One page of the tenant's events, newest first (`sort="occurred_at"`: oldest first), ties
    by id."""
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(AuditEvent)
    f = filters
    if f.action is not None:
        stmt = stmt.where(AuditEvent.action == f.action.value)
    if f.actor_type is not None:
        stmt = stmt.where(AuditEvent.actor_type == f.actor_type.value)
    if f.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.target_type is not None:
        stmt = stmt.where(AuditEvent.target_type == f.target_type.value)
    if f.target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == f.target_id)
    if f.occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at <= f.occurred_to)
    order = parse_sort(sort, SORTS, "-occurred_at", AuditEvent.id)
    return await paginate(session, stmt, order, params)


# --- helpers -------------------------------------------------------------------------------------


def _label(value: str | None) -> str | None:
    # Labels are snapshots for people reading the trail; the column holds 255 characters.
    return value[:255] if value is not None else None


def _json(value: Any) -> Any:
    """JSON-ready values: UUIDs as strings, timestamps in the API's format."""
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    return value


def _refuse_secrets(value: Any, path: str = "details") -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if str(key).lower().replace("_", "").replace("-", "") in FORBIDDEN_DETAIL_KEYS:
                raise SecretInAuditDetails(f"{path}.{key} must not be recorded in an audit event")
            _refuse_secrets(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _refuse_secrets(inner, f"{path}[{i}]")
