"""The resolvers: how an attribute gets its value and how a target user is chosen (§11.2).

Everything here reads; nothing writes. `service.py` decides when a resolver runs and records
what it returned. Each function takes the tenant explicitly and scopes every query to it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Activity, CommerceAssignment
from reten.activity_config.models import ResolverType, TargetCriteriaType
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
from reten.kit.validators import join_name
from reten.resolution.models import ActivityTargetUser, LockReason

# --- attributes ----------------------------------------------------------------------------------

HOOK_NOT_CONFIGURED = "CLIENT_HOOK has no endpoint configured"
HOOK_BAD_ANSWER = 'CLIENT_HOOK answer is not a JSON object with "value"'
# The most of a hook's answer that is read; a longer answer is refused.
MAX_HOOK_ANSWER_BYTES = 64 * 1024
VALUE_NOT_PROVIDED = "value not provided"
NO_PRIMARY_CONTACT = "no primary contact"
NO_PROMOTIONS_SOURCE = "no data source for promotions"


class ResolverError(Exception):
    """A resolver could not produce a value; the message becomes the attribute's errorMessage."""


@dataclass(frozen=True)
class AttributeContext:
    """What a resolver may look at: the activity, its commerce and its current target user."""

    session: AsyncSession
    tenant_id: uuid.UUID
    activity: Activity
    commerce_id: uuid.UUID
    # The activity's target user when one is resolved (RESOLVED or LOCKED), else None.
    target_user_id: uuid.UUID | None
    # CLIENT_HOOK answers obtained beforehand, outside any transaction, by attribute key: the
    # value, or the ResolverError the call ended with. A key found here is not called again.
    hook_answers: dict[str, Any] | None = None


async def commerce_info(ctx: AttributeContext) -> dict[str, Any]:
    """`{name, externalId, taxId, address}`; `address` is the active primary address's
    formatted address, or null."""
    repo = TenantRepository(ctx.session, ctx.tenant_id)
    commerce = await repo.get(Commerce, ctx.commerce_id)
    if commerce is None:  # the assignment's foreign key makes this unreachable; kept as a guard
        raise ResolverError("commerce not found")
    address = (
        await ctx.session.execute(
            repo.where(Address, select(Address.formatted_address)).where(
                Address.commerce_id == commerce.id,
                Address.is_primary.is_(True),
                Address.is_active.is_(True),
            )
        )
    ).scalar_one_or_none()
    return {
        "name": commerce.name,
        "externalId": commerce.external_id,
        "taxId": commerce.tax_id,
        "address": address,
    }


CONTACT_TYPE_ORDER = {kind.value: i for i, kind in enumerate(ContactType)}


async def primary_contact(ctx: AttributeContext) -> dict[str, Any]:
    """`{commerceUserId, name, type, value}` of the person the activity is for.

    The person is the activity's target user when one is resolved, else the commerce's earliest
    created active OWNER. Their contact is the first active primary contact in the order the API
    lists contacts (EMAIL, PHONE, WHATSAPP, OTHER).
    """
    repo = TenantRepository(ctx.session, ctx.tenant_id)
    user_id = ctx.target_user_id
    if user_id is None:
        users = await CommerceUsers.load(ctx.session, ctx.tenant_id, ctx.commerce_id)
        user_id = users.earliest_with(CommerceUserRole.OWNER)
    if user_id is None:
        raise ResolverError(NO_PRIMARY_CONTACT)
    user = await repo.get(CommerceUser, user_id)
    if user is None:
        raise ResolverError(NO_PRIMARY_CONTACT)
    contacts = list(
        (
            await ctx.session.execute(
                repo.select(Contact).where(
                    Contact.commerce_user_id == user.id,
                    Contact.is_primary.is_(True),
                    Contact.is_active.is_(True),
                )
            )
        ).scalars()
    )
    if not contacts:
        raise ResolverError(NO_PRIMARY_CONTACT)
    contact = min(contacts, key=lambda c: (CONTACT_TYPE_ORDER.get(c.type, 99), c.created_at))
    return {
        "commerceUserId": str(user.id),
        "name": join_name(user.first_name, user.last_name),
        "type": contact.type,
        "value": contact.value,
    }


async def promotions(ctx: AttributeContext) -> Any:
    raise ResolverError(NO_PROMOTIONS_SOURCE)


InternalResolver = Callable[[AttributeContext], Awaitable[Any]]

# The INTERNAL_SERVICE resolvers, by attribute key.
INTERNAL_RESOLVERS: dict[str, InternalResolver] = {
    "commerce_info": commerce_info,
    "primary_contact": primary_contact,
    "promotions": promotions,
}


@dataclass(frozen=True)
class Hook:
    """A tenant's CLIENT_HOOK endpoint for one attribute key (its AttributePolicy)."""

    url: str
    timeout_ms: int


async def _read_capped(response: httpx.Response) -> bytes | None:
    """The body, or None when it is longer than MAX_HOOK_ANSWER_BYTES (the rest is not read)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_HOOK_ANSWER_BYTES:
            return None
    return bytes(body)


async def _post_hook(hook: Hook, payload: dict[str, Any]) -> tuple[int, bytes | None]:
    timeout = hook.timeout_ms / 1000
    # A client per call: hooks are rare next to the database work of a run, and a client shared
    # across event loops (tests, workers) would hold connections bound to a dead loop.
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        client.stream(
            "POST",
            hook.url,
            content=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        ) as response,
    ):
        if not 200 <= response.status_code < 300:
            return response.status_code, b""
        return response.status_code, await _read_capped(response)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def hook_payload(ctx: AttributeContext, key: str) -> dict[str, Any]:
    """What a CLIENT_HOOK receives about the activity (read from the database)."""
    commerce = await TenantRepository(ctx.session, ctx.tenant_id).get(Commerce, ctx.commerce_id)
    if commerce is None:  # the assignment's foreign key makes this unreachable; kept as a guard
        raise ResolverError("commerce not found")
    return {
        "activityId": str(ctx.activity.id),
        "tenantId": str(ctx.tenant_id),
        "attributeKey": key,
        "channel": ctx.activity.channel,
        "type": ctx.activity.type,
        "commerce": {
            "id": str(commerce.id),
            "externalId": commerce.external_id,
            "name": commerce.name,
        },
    }


async def call_hook(hook: Hook | None, payload: dict[str, Any]) -> Any:
    """POST `payload` to the tenant's endpoint; its answer's `value` is the attribute's.
    Touches no database, so it can run with no transaction open."""
    if hook is None:
        raise ResolverError(HOOK_NOT_CONFIGURED)
    try:
        # The httpx timeout bounds each phase; this one bounds the whole exchange.
        async with asyncio.timeout(hook.timeout_ms / 1000):
            status, body = await _post_hook(hook, payload)
    except (TimeoutError, httpx.TimeoutException):
        raise ResolverError(f"CLIENT_HOOK timed out after {hook.timeout_ms} ms") from None
    except (httpx.HTTPError, OSError, ValueError) as exc:
        # ValueError: an URL httpx refuses (e.g. a policy stored before today's rules).
        raise ResolverError(f"CLIENT_HOOK request failed: {type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise ResolverError(f"CLIENT_HOOK answered HTTP {status}")
    if body is None:
        raise ResolverError(f"CLIENT_HOOK answer is larger than {MAX_HOOK_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # not JSON (NaN and Infinity included), or not UTF-8
        raise ResolverError(HOOK_BAD_ANSWER) from None
    if not isinstance(answer, dict) or "value" not in answer:
        raise ResolverError(HOOK_BAD_ANSWER)
    return answer["value"]


async def client_hook(ctx: AttributeContext, key: str, hook: Hook | None) -> Any:
    """The attribute's value from the tenant's hook, or the answer fetched beforehand."""
    if ctx.hook_answers is not None and key in ctx.hook_answers:
        answer = ctx.hook_answers[key]
        if isinstance(answer, ResolverError):
            raise answer
        return answer
    if hook is None:
        raise ResolverError(HOOK_NOT_CONFIGURED)
    return await call_hook(hook, await hook_payload(ctx, key))


async def resolve_attribute(
    resolver_type: str, key: str, ctx: AttributeContext, hook: Hook | None = None
) -> Any:
    """The value of `key` by `resolver_type`; raises ResolverError with the reason otherwise.

    `hook` is the key's CLIENT_HOOK endpoint (its policy's), or None when it has none."""
    if resolver_type == ResolverType.CALLER_PROVIDED:
        # Only the caller could have given it, and it did not (a given value never gets here).
        raise ResolverError(VALUE_NOT_PROVIDED)
    if resolver_type == ResolverType.CLIENT_HOOK:
        return await client_hook(ctx, key, hook)
    resolver = INTERNAL_RESOLVERS.get(key)
    if resolver is None:
        raise ResolverError(f"no internal resolver for {key}")
    return await resolver(ctx)


# --- target user ---------------------------------------------------------------------------------

NO_TARGET_USER = "no active commerce user matches the criteria or the fallbacks"


@dataclass(frozen=True)
class Criterion:
    type: TargetCriteriaType
    config: dict[str, Any]
    priority: int


@dataclass(frozen=True)
class Plan:
    """One config's way to a user: its criteria (ascending priority), then its fallbacks."""

    criteria: list[Criterion]
    fallback_to_commerce_rep: bool
    fallback_to_owner: bool


@dataclass(frozen=True)
class Match:
    commerce_user_id: uuid.UUID
    lock_reason: LockReason


@dataclass
class CommerceUsers:
    """The commerce's active users, earliest created first, with the roles each holds."""

    ordered: list[uuid.UUID] = field(default_factory=list)
    roles: dict[uuid.UUID, set[str]] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID
    ) -> CommerceUsers:
        repo = TenantRepository(session, tenant_id)
        stmt = (
            repo.where(CommerceUser, select(CommerceUser.id, CommerceUserRoleLink.role))
            .outerjoin(
                CommerceUserRoleLink,
                (CommerceUserRoleLink.commerce_user_id == CommerceUser.id)
                & repo.owns(CommerceUserRoleLink),
            )
            .where(CommerceUser.commerce_id == commerce_id, CommerceUser.is_active.is_(True))
            .order_by(CommerceUser.created_at, CommerceUser.id)
        )
        users = cls()
        for user_id, role in (await session.execute(stmt)).all():
            if user_id not in users.roles:
                users.ordered.append(user_id)
                users.roles[user_id] = set()
            if role is not None:
                users.roles[user_id].add(role)
        return users

    def is_active_user(self, user_id: uuid.UUID) -> bool:
        return user_id in self.roles

    def earliest_with(self, role: str) -> uuid.UUID | None:
        return next((u for u in self.ordered if role in self.roles[u]), None)


async def last_contacted(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    *,
    exclude_activity_id: uuid.UUID,
    channel: str | None,
) -> uuid.UUID | None:
    """The commerce user targeted by the commerce's most recently dispatched activity (on
    `channel` when given) among those whose target user has a commerce user."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(ActivityTargetUser, select(ActivityTargetUser.commerce_user_id))
        .join(
            Activity,
            (Activity.id == ActivityTargetUser.activity_id) & repo.owns(Activity),
        )
        .join(
            CommerceAssignment,
            (CommerceAssignment.activity_id == Activity.id) & repo.owns(CommerceAssignment),
        )
        .where(
            CommerceAssignment.commerce_id == commerce_id,
            Activity.dispatched_at.is_not(None),
            Activity.id != exclude_activity_id,
            ActivityTargetUser.commerce_user_id.is_not(None),
        )
        .order_by(Activity.dispatched_at.desc(), Activity.id.desc())
        .limit(1)
    )
    if channel is not None:
        stmt = stmt.where(Activity.channel == channel)
    found: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def _criterion_user(
    session: AsyncSession,
    activity: Activity,
    commerce_id: uuid.UUID,
    users: CommerceUsers,
    criterion: Criterion,
    contacted: dict[bool, uuid.UUID | None],
) -> uuid.UUID | None:
    if criterion.type == TargetCriteriaType.ROLE_MATCH:
        role = criterion.config.get("role")
        return users.earliest_with(role) if isinstance(role, str) else None
    same_channel = criterion.type == TargetCriteriaType.LAST_CONTACTED_SAME_CHANNEL
    # Request criteria repeat in every plan: ask the database once per kind.
    if same_channel not in contacted:
        contacted[same_channel] = await last_contacted(
            session,
            activity.tenant_id,
            commerce_id,
            exclude_activity_id=activity.id,
            channel=activity.channel if same_channel else None,
        )
    user_id = contacted[same_channel]
    # The user must still be an active user of this commerce; an older contact does not count.
    return user_id if user_id is not None and users.is_active_user(user_id) else None


async def choose_target_user(
    session: AsyncSession, activity: Activity, commerce_id: uuid.UUID, plans: list[Plan]
) -> Match | None:
    """Walk the plans in order: each plan's criteria, then its fallbacks. First user wins."""
    users = await CommerceUsers.load(session, activity.tenant_id, commerce_id)
    if not users.ordered:
        return None  # no active user at all: no criterion or fallback can match
    contacted: dict[bool, uuid.UUID | None] = {}
    for plan in plans:
        for criterion in sorted(plan.criteria, key=lambda c: c.priority):
            user_id = await _criterion_user(
                session, activity, commerce_id, users, criterion, contacted
            )
            if user_id is not None:
                return Match(user_id, LockReason.CRITERIA_MATCH)
        if plan.fallback_to_commerce_rep:
            user_id = users.earliest_with(CommerceUserRole.COMMERCE_REP)
            if user_id is not None:
                return Match(user_id, LockReason.FALLBACK_COMMERCE_REP)
        if plan.fallback_to_owner:
            user_id = users.earliest_with(CommerceUserRole.OWNER)
            if user_id is not None:
                return Match(user_id, LockReason.FALLBACK_OWNER)
    return None
