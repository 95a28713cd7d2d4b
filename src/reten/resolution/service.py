"""The resolution engine: an activity's attributes and its target user (management-api.md §11.2).

Activity creation calls `check_request` (the 400s) and then `resolve_on_creation`;
retry-resolution calls `retry`; the dispatch engine calls `resolve_for_dispatch` before the
first attempt of a cycle and `lock_target_user` once a delivery is accepted. None of them
commits: the caller's transaction also carries the activity's status change, so the records and
the status can never disagree. Each returns None when nothing is FAILED, else the one-line
sentence that becomes the status event's detail.

Records remember what they need to be re-run later: an attribute keeps the policy in force at
creation and the caller's fallback; a target user keeps the request's own criteria. The configs
themselves are read again at each run (a retry uses the tenant's current active configs).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from reten.activities.models import Activity, CommerceAssignment
from reten.activity_config import service as activity_config
from reten.activity_config.criteria import CriteriaInput, criteria_with_priorities
from reten.activity_config.models import (
    AttributeKey,
    AttributePolicy,
    AttributeStrategy,
    ResolverType,
    TargetCriteriaType,
    TargetResolutionStrategy,
)
from reten.activity_config.schemas import DEFAULT_HOOK_TIMEOUT_MS
from reten.commerces.models import CommerceUser
from reten.kit.db import TenantRepository
from reten.kit.errors import BadRequest, NotFound, ValidationFailed
from reten.kit.time import utcnow
from reten.resolution.models import (
    ActivityAttribute,
    ActivityTargetUser,
    AttributeStatus,
    LockReason,
    TargetUserStatus,
)
from reten.resolution.resolvers import (
    NO_TARGET_USER,
    AttributeContext,
    Criterion,
    Hook,
    Plan,
    ResolverError,
    call_hook,
    choose_target_user,
    hook_payload,
    resolve_attribute,
)
from reten.resolution.schemas import AttributeInput

ACTIVITY_NOT_FOUND = "Activity not found"
# The longest failure sentence kept (the activity's lifecycle detail column holds 500).
MAX_DETAIL = 500


@dataclass(frozen=True)
class ResolutionRequest:
    target_criteria: list[CriteriaInput] | None  # None = not given
    attribute_keys: list[str]  # may be empty
    attributes: list[AttributeInput]  # may be empty


# --- validation ----------------------------------------------------------------------------------


async def check_request(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    request: ResolutionRequest,
    field_prefix: str = "",
) -> None:
    """400 (every problem at once) for unknown or repeated keys and non-distinct priorities.

    Fields: `attribute_keys[i]`, `attributes[i].key`, `target_criteria`, each prefixed by
    `field_prefix` (e.g. "items[3]." in a batch). The key catalog is global, so `tenant_id` only
    documents whose request this is.
    """
    details: list[dict[str, str]] = []
    wanted = set(request.attribute_keys) | {a.key for a in request.attributes}
    known = await _known_keys(session, wanted)

    def check(keys: Sequence[str], field: str) -> None:
        seen: set[str] = set()
        for i, key in enumerate(keys):
            name = field_prefix + field.format(i)
            if key in seen:
                details.append({"field": name, "message": "is repeated"})
            elif key not in known:
                details.append({"field": name, "message": "is not a known attribute key"})
            seen.add(key)

    check(request.attribute_keys, "attribute_keys[{}]")
    check([a.key for a in request.attributes], "attributes[{}].key")
    if request.target_criteria is not None:
        try:
            criteria_with_priorities(request.target_criteria)
        except ValueError as exc:
            details.append({"field": f"{field_prefix}target_criteria", "message": str(exc)})
    if details:
        raise ValidationFailed(details)


async def _known_keys(session: AsyncSession, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    stmt = select(AttributeKey.key).where(AttributeKey.key.in_(keys))
    return set((await session.execute(stmt)).scalars())


# --- the runs ------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One resolution pass over one activity."""

    session: AsyncSession
    activity: Activity
    commerce_id: uuid.UUID

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.activity.tenant_id

    @property
    def repo(self) -> TenantRepository:
        return TenantRepository(self.session, self.tenant_id)

    def attribute_context(
        self, target: ActivityTargetUser | None, hook_answers: dict[str, Any] | None = None
    ) -> AttributeContext:
        return AttributeContext(
            session=self.session,
            tenant_id=self.tenant_id,
            activity=self.activity,
            commerce_id=self.commerce_id,
            target_user_id=_resolved_user(target),
            hook_answers=hook_answers,
        )

    async def run_target(
        self,
        record: ActivityTargetUser,
        configs: list[activity_config.ConfigWithCriteria] | None = None,
    ) -> None:
        if configs is None:
            configs = await activity_config.list_target_configs(
                self.session, self.tenant_id, active_only=True
            )
        plans = _plans(configs, record.requested_criteria)
        match = await choose_target_user(self.session, self.activity, self.commerce_id, plans)
        if match is None:
            record.commerce_user_id = None
            record.resolution_status = TargetUserStatus.FAILED.value
            record.lock_reason = None
            record.resolved_at = None
            record.error_message = NO_TARGET_USER
            return
        record.commerce_user_id = match.commerce_user_id
        record.resolution_status = TargetUserStatus.RESOLVED.value
        record.lock_reason = match.lock_reason.value
        record.resolved_at = utcnow()
        record.error_message = None

    async def run_attribute(
        self,
        record: ActivityAttribute,
        key: str,
        ctx: AttributeContext,
        hook: Hook | None = None,
    ) -> None:
        try:
            value = await resolve_attribute(record.resolver_type, key, ctx, hook)
        except ResolverError as exc:
            if record.has_fallback:
                _settle(record, AttributeStatus.FALLBACK, record.fallback, error=str(exc))
            else:
                record.resolution_status = AttributeStatus.FAILED.value
                record.value = None
                record.resolved_at = None
                record.error_message = str(exc)[:1000]
            return
        _settle(record, AttributeStatus.RESOLVED, value)


def _hook(policy: AttributePolicy | None) -> Hook | None:
    """The policy's CLIENT_HOOK endpoint, or None when it has none (any more)."""
    if policy is None or policy.hook_url is None:
        return None
    return Hook(policy.hook_url, policy.hook_timeout_ms or DEFAULT_HOOK_TIMEOUT_MS)


async def _hooks(
    session: AsyncSession, tenant_id: uuid.UUID, records: Sequence[ActivityAttribute]
) -> dict[uuid.UUID, Hook | None]:
    """The current CLIENT_HOOK endpoint of each CLIENT_HOOK record's key, by key id."""
    key_ids = sorted(
        {r.attribute_key_id for r in records if r.resolver_type == ResolverType.CLIENT_HOOK}
    )
    policies = await activity_config.policies_for(session, tenant_id, key_ids)
    return {key_id: _hook(policies.get(key_id)) for key_id in key_ids}


def _settle(
    record: ActivityAttribute, status: AttributeStatus, value: Any, *, error: str | None = None
) -> None:
    record.resolution_status = status.value
    record.value = value
    record.resolved_at = utcnow()
    # On FALLBACK the message says why the resolver's own value is missing.
    record.error_message = error[:1000] if error else None


def _resolved_user(target: ActivityTargetUser | None) -> uuid.UUID | None:
    if target is None or target.resolution_status not in (
        TargetUserStatus.RESOLVED,
        TargetUserStatus.LOCKED,
    ):
        return None
    return target.commerce_user_id


def _plans(
    configs: list[activity_config.ConfigWithCriteria],
    requested: list[dict[str, Any]] | None,
) -> list[Plan]:
    """The request's criteria replace every config's and keep its fallbacks; with no active
    config, one plan with both fallbacks on."""
    asked = (
        [
            Criterion(TargetCriteriaType(c["type"]), dict(c.get("config") or {}), c["priority"])
            for c in requested
        ]
        if requested is not None
        else None
    )
    if not configs:
        return [Plan(asked or [], fallback_to_commerce_rep=True, fallback_to_owner=True)]
    return [
        Plan(
            asked
            if asked is not None
            else [
                Criterion(TargetCriteriaType(c.criteria_type), c.criteria_config, c.priority)
                for c in item.criteria
            ],
            fallback_to_commerce_rep=item.config.fallback_to_commerce_rep,
            fallback_to_owner=item.config.fallback_to_owner,
        )
        for item in configs
    ]


def _requested(criteria: list[CriteriaInput] | None) -> list[dict[str, Any]] | None:
    if criteria is None:
        return None
    return [
        {"type": c.type.value, "config": c.config, "priority": c.priority}
        for c in criteria_with_priorities(criteria)
    ]


def failure_detail(
    target: ActivityTargetUser | None, attributes: Sequence[tuple[ActivityAttribute, str]]
) -> str | None:
    """One line naming what is FAILED, or None when nothing is."""
    parts = []
    if target is not None and target.resolution_status == TargetUserStatus.FAILED:
        parts.append(f"target user ({target.error_message or NO_TARGET_USER})")
    parts += [
        f"attribute {key} ({record.error_message or 'failed'})"
        for record, key in sorted(attributes, key=lambda pair: pair[1])
        if record.resolution_status == AttributeStatus.FAILED
    ]
    if not parts:
        return None
    sentence = "Could not resolve " + ", ".join(parts)
    return sentence if len(sentence) <= MAX_DETAIL else sentence[: MAX_DETAIL - 1] + "…"


async def resolve_on_creation(
    session: AsyncSession, activity: Activity, commerce_id: uuid.UUID, request: ResolutionRequest
) -> str | None:
    """Create the ActivityAttribute and ActivityTargetUser records of a new activity (already
    added and flushed) and run the create-time resolution: ON_CREATION target, UPFRONT
    attributes, caller values and fallbacks. Does not commit."""
    run = _Run(session, activity, commerce_id)
    configs = await activity_config.list_target_configs(
        session, activity.tenant_id, active_only=True
    )
    target: ActivityTargetUser | None = None
    # A record exists only when someone asked for a target: the request or an active config.
    if request.target_criteria is not None or configs:
        strategy = (
            configs[0].config.resolution_strategy
            if configs
            else TargetResolutionStrategy.ON_CREATION.value
        )
        target = run.repo.add(
            ActivityTargetUser(
                id=uuid.uuid4(),
                activity_id=activity.id,
                commerce_user_id=None,
                resolution_status=TargetUserStatus.PENDING.value,
                resolution_strategy=strategy,
                requested_criteria=_requested(request.target_criteria),
            )
        )
        if strategy == TargetResolutionStrategy.ON_CREATION:
            await run.run_target(target, configs)
    # After the target: primary_contact names the target user when there is one.
    attributes = await _create_attributes(run, request, target)
    return failure_detail(target, attributes)


async def _create_attributes(
    run: _Run, request: ResolutionRequest, target: ActivityTargetUser | None
) -> list[tuple[ActivityAttribute, str]]:
    given = {a.key: a for a in request.attributes}
    keys = sorted(set(request.attribute_keys) | set(given))
    if not keys:
        return []
    catalog = {
        k.key: k
        for k in (
            await run.session.execute(select(AttributeKey).where(AttributeKey.key.in_(keys)))
        ).scalars()
    }
    unknown = [k for k in keys if k not in catalog]
    if unknown:  # check_request reports these with their positions; this is a guard
        raise ValidationFailed.one("attribute_keys", f"unknown attribute key {unknown[0]}")
    policies = await activity_config.policies_for(
        run.session, run.tenant_id, [catalog[k].id for k in keys]
    )
    ctx = run.attribute_context(target)
    out = []
    for key in keys:
        policy = policies.get(catalog[key].id)
        strategy = policy.resolution_strategy if policy else AttributeStrategy.UPFRONT.value
        item = given.get(key)
        has_fallback = item is not None and item.has_fallback
        record = run.repo.add(
            ActivityAttribute(
                id=uuid.uuid4(),
                activity_id=run.activity.id,
                attribute_key_id=catalog[key].id,
                resolution_strategy=strategy,
                value=None,
                fallback=item.fallback if item is not None and has_fallback else None,
                has_fallback=has_fallback,
                resolution_status=AttributeStatus.PENDING.value,
                resolver_type=(
                    policy.resolver_type if policy else ResolverType.INTERNAL_SERVICE.value
                ),
            )
        )
        if item is not None and item.has_value:
            # A value given by the caller wins under any policy.
            record.resolver_type = ResolverType.CALLER_PROVIDED.value
            _settle(record, AttributeStatus.RESOLVED, item.value)
        elif strategy != AttributeStrategy.ON_DISPATCH:
            await run.run_attribute(record, key, ctx, _hook(policy))
        out.append((record, key))
    return out


async def _commerce_id(session: AsyncSession, activity: Activity) -> uuid.UUID:
    repo = TenantRepository(session, activity.tenant_id)
    stmt = repo.where(CommerceAssignment, select(CommerceAssignment.commerce_id)).where(
        CommerceAssignment.activity_id == activity.id
    )
    commerce_id: uuid.UUID = (await session.execute(stmt)).scalar_one()
    return commerce_id


async def _target_record(session: AsyncSession, activity: Activity) -> ActivityTargetUser | None:
    repo = TenantRepository(session, activity.tenant_id)
    stmt = repo.select(ActivityTargetUser).where(ActivityTargetUser.activity_id == activity.id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _attribute_records(
    session: AsyncSession, activity: Activity
) -> list[tuple[ActivityAttribute, str]]:
    repo = TenantRepository(session, activity.tenant_id)
    stmt = (
        repo.where(ActivityAttribute, select(ActivityAttribute, AttributeKey.key))
        .join(AttributeKey, AttributeKey.id == ActivityAttribute.attribute_key_id)
        .where(ActivityAttribute.activity_id == activity.id)
        .order_by(AttributeKey.key)
    )
    return [(record, key) for record, key in (await session.execute(stmt)).all()]


async def retry(session: AsyncSession, activity: Activity) -> str | None:
    """Re-run every FAILED record and every PENDING one whose time has come (ON_CREATION target,
    UPFRONT attributes). Does not commit."""
    run = _Run(session, activity, await _commerce_id(session, activity))
    target = await _target_record(session, activity)
    if target is not None and (
        target.resolution_status == TargetUserStatus.FAILED
        or (
            target.resolution_status == TargetUserStatus.PENDING
            and target.resolution_strategy == TargetResolutionStrategy.ON_CREATION
        )
    ):
        await run.run_target(target)
    attributes = await _attribute_records(session, activity)
    ctx = run.attribute_context(target)
    due = [
        (record, key)
        for record, key in attributes
        if record.resolution_status == AttributeStatus.FAILED
        or (
            record.resolution_status == AttributeStatus.PENDING
            and record.resolution_strategy != AttributeStrategy.ON_DISPATCH
        )
    ]
    hooks = await _hooks(session, run.tenant_id, [record for record, _ in due])
    for record, key in due:
        await run.run_attribute(record, key, ctx, hooks.get(record.attribute_key_id))
    return failure_detail(target, attributes)


def _dispatch_due(
    attributes: list[tuple[ActivityAttribute, str]],
) -> list[tuple[ActivityAttribute, str]]:
    return [
        (record, key)
        for record, key in attributes
        if record.resolution_strategy == AttributeStrategy.ON_DISPATCH
        and record.resolver_type != ResolverType.CALLER_PROVIDED
    ]


async def dispatch_hook_calls(
    session: AsyncSession, activity: Activity
) -> list[tuple[str, Hook | None, dict[str, Any]]]:
    """The CLIENT_HOOK calls `resolve_for_dispatch` would make, as (key, hook, payload), so the
    dispatcher can make them with no transaction open and hand the answers in. Reads only."""
    run = _Run(session, activity, await _commerce_id(session, activity))
    due = [
        (record, key)
        for record, key in _dispatch_due(await _attribute_records(session, activity))
        if record.resolver_type == ResolverType.CLIENT_HOOK
    ]
    if not due:
        return []
    hooks = await _hooks(session, run.tenant_id, [record for record, _ in due])
    ctx = run.attribute_context(None)
    return [
        (key, hooks.get(record.attribute_key_id), await hook_payload(ctx, key))
        for record, key in due
    ]


async def call_hooks(
    calls: list[tuple[str, Hook | None, dict[str, Any]]],
) -> dict[str, Any]:
    """Make the calls of `dispatch_hook_calls`: each key's value, or the ResolverError."""
    answers: dict[str, Any] = {}
    for key, hook, payload in calls:
        try:
            answers[key] = await call_hook(hook, payload)
        except ResolverError as exc:
            answers[key] = exc
    return answers


async def resolve_for_dispatch(
    session: AsyncSession, activity: Activity, hook_answers: dict[str, Any] | None = None
) -> str | None:
    """The ON_DISPATCH resolution, before the first attempt of a dispatch cycle: the target
    user (unless it is LOCKED) and the attributes whose policy says ON_DISPATCH (unless the
    caller gave their value). `hook_answers` (from `call_hooks`) replaces calling CLIENT_HOOKs
    here. Does not commit; same return convention."""
    run = _Run(session, activity, await _commerce_id(session, activity))
    target = await _target_record(session, activity)
    if (
        target is not None
        and target.resolution_strategy == TargetResolutionStrategy.ON_DISPATCH
        and target.resolution_status != TargetUserStatus.LOCKED
    ):
        await run.run_target(target)
    attributes = await _attribute_records(session, activity)
    ctx = run.attribute_context(target, hook_answers)
    due = _dispatch_due(attributes)
    hooks = await _hooks(session, run.tenant_id, [record for record, _ in due])
    for record, key in due:
        await run.run_attribute(record, key, ctx, hooks.get(record.attribute_key_id))
    return failure_detail(target, attributes)


async def lock_target_user(session: AsyncSession, activity: Activity) -> None:
    """A RESOLVED target user becomes LOCKED when its activity is dispatched. Does not commit."""
    await lock_target_users(session, activity.tenant_id, [activity.id])


async def lock_target_users(
    session: AsyncSession, tenant_id: uuid.UUID, activity_ids: Sequence[uuid.UUID]
) -> None:
    """`lock_target_user` for many activities of one tenant in one statement."""
    await session.execute(
        TenantRepository(session, tenant_id)
        .update(ActivityTargetUser)
        .where(
            ActivityTargetUser.activity_id.in_(activity_ids),
            ActivityTargetUser.resolution_status == TargetUserStatus.RESOLVED.value,
        )
        .values(resolution_status=TargetUserStatus.LOCKED.value, locked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- reads and the manual assignment (11.9–11.11) -------------------------------------------------


async def get_activity(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    activity = await TenantRepository(session, tenant_id).get(Activity, activity_id)
    if activity is None:
        raise NotFound(ACTIVITY_NOT_FOUND)
    return activity


@dataclass(frozen=True)
class TargetUserView:
    target: ActivityTargetUser
    commerce_user: CommerceUser | None


async def target_users(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[TargetUserView]:
    """The activity's target user (zero or one) with its commerce user; 404 for no activity."""
    await get_activity(session, tenant_id, activity_id)
    return await target_users_of(session, tenant_id, activity_id)


async def target_users_of(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[TargetUserView]:
    """`target_users` of an activity the caller already found in the tenant (a page showing
    several of its parts checks once)."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(ActivityTargetUser, select(ActivityTargetUser, CommerceUser))
        .outerjoin(
            CommerceUser,
            (CommerceUser.id == ActivityTargetUser.commerce_user_id) & repo.owns(CommerceUser),
        )
        .where(ActivityTargetUser.activity_id == activity_id)
    )
    return [TargetUserView(t, u) for t, u in (await session.execute(stmt)).all()]


async def attributes(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[tuple[ActivityAttribute, AttributeKey]]:
    """The activity's attributes with their keys, ordered by key; 404 for no activity."""
    await get_activity(session, tenant_id, activity_id)
    return await attributes_of(session, tenant_id, activity_id)


async def attributes_of(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[tuple[ActivityAttribute, AttributeKey]]:
    """`attributes` of an activity the caller already found in the tenant."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(ActivityAttribute, select(ActivityAttribute, AttributeKey))
        .join(AttributeKey, AttributeKey.id == ActivityAttribute.attribute_key_id)
        .where(ActivityAttribute.activity_id == activity_id)
        .order_by(AttributeKey.key)
    )
    return [(record, key) for record, key in (await session.execute(stmt)).all()]


async def get_target_user(
    session: AsyncSession, activity: Activity, target_user_id: uuid.UUID
) -> ActivityTargetUser:
    repo = TenantRepository(session, activity.tenant_id)
    stmt = repo.select(ActivityTargetUser).where(
        ActivityTargetUser.id == target_user_id, ActivityTargetUser.activity_id == activity.id
    )
    target = (await session.execute(stmt)).scalar_one_or_none()
    if target is None:
        raise NotFound("Target user not found")
    return target


async def get_commerce_user(
    session: AsyncSession, activity: Activity, commerce_user_id: uuid.UUID
) -> CommerceUser:
    """A user of the activity's commerce (404 for any other, whatever tenant it is in)."""
    repo = TenantRepository(session, activity.tenant_id)
    stmt = repo.select(CommerceUser).where(
        CommerceUser.id == commerce_user_id,
        CommerceUser.commerce_id == await _commerce_id(session, activity),
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("Commerce user not found")
    return user


ALREADY_RESOLVED = "Target user is already resolved"
OPEN_STATUSES = (TargetUserStatus.PENDING.value, TargetUserStatus.FAILED.value)


async def assign_manually(
    session: AsyncSession, target: ActivityTargetUser, user: CommerceUser
) -> None:
    """11.10: PENDING or FAILED → LOCKED on `user` (MANUAL_ASSIGNMENT). Does not commit.

    A compare-and-set on the status, so of two concurrent assignments exactly one wins.
    """
    if target.resolution_status not in OPEN_STATUSES:
        raise BadRequest(ALREADY_RESOLVED)
    if not user.is_active:
        raise BadRequest("Commerce user is inactive")
    now = utcnow()
    values: dict[str, Any] = {
        "commerce_user_id": user.id,
        "resolution_status": TargetUserStatus.LOCKED.value,
        "lock_reason": LockReason.MANUAL_ASSIGNMENT.value,
        "resolved_at": now,
        "locked_at": now,
        "error_message": None,
        "updated_at": now,
    }
    result = await session.execute(
        TenantRepository(session, target.tenant_id)
        .update(ActivityTargetUser)
        .where(
            ActivityTargetUser.id == target.id,
            ActivityTargetUser.resolution_status.in_(OPEN_STATUSES),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise BadRequest(ALREADY_RESOLVED)
    # Mirror the row as already persisted (a setattr would flush a second, unchecked UPDATE).
    for name, value in values.items():
        set_committed_value(target, name, value)
