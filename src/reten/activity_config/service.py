"""Activity configuration: the tenant's task result types, attribute policies and target
resolution configs, and the global attribute-key catalog.

Uniqueness is the database's job: a policy upsert and a config write commit and turn a unique
violation into the answer (update instead / 409), so concurrent requests cannot both pass a
check-then-insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activity_config.criteria import CriteriaInput, criteria_with_priorities
from reten.activity_config.models import (
    AttributeKey,
    AttributePolicy,
    ResolverType,
    TargetResolutionConfig,
    TargetResolutionCriteria,
    TaskResultType,
)
from reten.activity_config.schemas import (
    AttributePolicyUpsert,
    TargetResolutionConfigCreate,
    TargetResolutionConfigUpdate,
    TaskResultTypeCreate,
    TaskResultTypeUpdate,
)
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.kit.actor import Actor
from reten.kit.db import TenantRepository
from reten.kit.errors import Conflict, NotFound
from reten.kit.time import utcnow
from reten.results.models import ActivityResult


async def list_types(
    session: AsyncSession, tenant_id: uuid.UUID, *, is_active: bool | None = None
) -> list[TaskResultType]:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(TaskResultType)
    if is_active is not None:
        stmt = stmt.where(TaskResultType.is_active.is_(is_active))
    stmt = stmt.order_by(TaskResultType.sort_order, TaskResultType.code)
    return list((await session.execute(stmt)).scalars())


async def active_type(
    session: AsyncSession, tenant_id: uuid.UUID, code: str
) -> TaskResultType | None:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(TaskResultType).where(
        TaskResultType.code == code, TaskResultType.is_active.is_(True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_type(
    session: AsyncSession, tenant_id: uuid.UUID, data: TaskResultTypeCreate, *, actor: Actor
) -> TaskResultType:
    repo = TenantRepository(session, tenant_id)
    existing = (
        await session.execute(repo.select(TaskResultType).where(TaskResultType.code == data.code))
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("code already exists")
    item = repo.add(
        TaskResultType(
            id=uuid.uuid4(),
            code=data.code,
            label=data.label,
            requires_future_scheduled_at=data.requires_future_scheduled_at,
            outcome=data.outcome.value,
            is_active=data.is_active,
            sort_order=data.sort_order,
        )
    )
    audit.record_object(session, tenant_id, actor, AuditAction.TASK_RESULT_TYPE_CREATED, item)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent create of the same code
        await session.rollback()
        raise Conflict("code already exists") from None
    return item


async def _get(session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID) -> TaskResultType:
    item = await TenantRepository(session, tenant_id).get(TaskResultType, type_id)
    if item is None:
        raise NotFound("Task result type not found")
    return item


async def get_type(
    session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID
) -> TaskResultType:
    """One result type of the tenant; another tenant's is NotFound."""
    return await _get(session, tenant_id, type_id)


async def update_type(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    type_id: uuid.UUID,
    data: TaskResultTypeUpdate,
    *,
    actor: Actor,
) -> TaskResultType:
    item = await _get(session, tenant_id, type_id)
    before = audit.describe(item)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            continue  # none of these fields is nullable; an explicit null leaves it unchanged
        setattr(item, field, value.value if hasattr(value, "value") else value)
    audit.record_changed(
        session, tenant_id, actor, AuditAction.TASK_RESULT_TYPE_UPDATED, item, before
    )
    await session.commit()
    return item


async def delete_type(
    session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID, *, actor: Actor
) -> TaskResultType | None:
    """Delete an unused type; deactivate one that results refer to (and return it)."""
    item = await _get(session, tenant_id, type_id)
    repo = TenantRepository(session, tenant_id)
    used = (
        await session.execute(
            repo.select(ActivityResult).where(ActivityResult.result_code == item.code).limit(1)
        )
    ).first()
    if used is None:
        audit.record_object(session, tenant_id, actor, AuditAction.TASK_RESULT_TYPE_DELETED, item)
        await session.delete(item)
        await session.commit()
        return None
    before = audit.describe(item)
    item.is_active = False
    audit.record_changed(
        session, tenant_id, actor, AuditAction.TASK_RESULT_TYPE_DEACTIVATED, item, before
    )
    await session.commit()
    return item


# The global attribute-key catalog (management-api.md §13.5), seeded at every start-up.
ATTRIBUTE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("commerce_info", "Commerce Info", "Commerce data for activity context"),
    ("primary_contact", "Primary Contact", "The commerce's primary contact for the activity"),
    ("promotions", "Promotions", "Active promotions for the commerce"),
)


async def seed_attribute_keys(session: AsyncSession) -> None:
    """Insert missing catalog keys; idempotent, and safe when two processes start together."""
    existing = set((await session.execute(select(AttributeKey.key))).scalars())
    for key, label, description in ATTRIBUTE_KEYS:
        if key in existing:
            continue
        session.add(AttributeKey(id=uuid.uuid4(), key=key, label=label, description=description))
        try:
            await session.commit()
        except IntegrityError:  # another process seeded it first
            await session.rollback()


# --- attribute keys and policies (management-api.md §13.5–13.7) ---------------------------------


async def list_attribute_keys(session: AsyncSession) -> list[AttributeKey]:
    """The global catalog, ordered by key."""
    return list((await session.execute(select(AttributeKey).order_by(AttributeKey.key))).scalars())


async def list_policies(
    session: AsyncSession, tenant_id: uuid.UUID
) -> list[tuple[AttributePolicy, AttributeKey]]:
    """The tenant's policies with their keys, ordered by key."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(AttributePolicy, select(AttributePolicy, AttributeKey))
        .join(AttributeKey, AttributeKey.id == AttributePolicy.attribute_key_id)
        .order_by(AttributeKey.key)
    )
    return [(policy, key) for policy, key in (await session.execute(stmt)).all()]


async def upsert_policy(
    session: AsyncSession, tenant_id: uuid.UUID, data: AttributePolicyUpsert, *, actor: Actor
) -> tuple[AttributePolicy, AttributeKey]:
    """Create or replace the tenant's policy for one attribute key (one per key per tenant)."""
    strategy = data.effective_strategy.value
    resolver = data.resolver_type.value
    # Hook settings belong to CLIENT_HOOK policies only; any other resolver clears them.
    hook_url = data.hook_url if data.resolver_type == ResolverType.CLIENT_HOOK else None
    hook_timeout_ms = data.effective_hook_timeout_ms
    repo = TenantRepository(session, tenant_id)
    # Two attempts: when a concurrent upsert inserts the key's policy between our read and our
    # insert, the unique constraint refuses ours and the second pass updates theirs. Each pass
    # reads afresh: the rollback expired everything loaded before it.
    for _ in range(2):
        key = await session.get(AttributeKey, data.attribute_key_id, populate_existing=True)
        if key is None:
            raise NotFound("Attribute key not found")
        policy = (
            await session.execute(
                repo.select(AttributePolicy).where(AttributePolicy.attribute_key_id == key.id)
            )
        ).scalar_one_or_none()
        if policy is None:
            policy = repo.add(
                AttributePolicy(
                    id=uuid.uuid4(),
                    attribute_key_id=key.id,
                    resolution_strategy=strategy,
                    resolver_type=resolver,
                    hook_url=hook_url,
                    hook_timeout_ms=hook_timeout_ms,
                )
            )
            audit.record_object(
                session, tenant_id, actor, AuditAction.ATTRIBUTE_POLICY_CREATED, policy,
                attributeKey=key.key,
            )  # fmt: skip
        else:
            before = audit.describe(policy)
            policy.resolution_strategy = strategy
            policy.resolver_type = resolver
            policy.hook_url = hook_url
            policy.hook_timeout_ms = hook_timeout_ms
            audit.record_changed(
                session, tenant_id, actor, AuditAction.ATTRIBUTE_POLICY_UPDATED, policy, before
            )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            continue
        return policy, key
    raise Conflict("attribute_key_id is being updated concurrently; retry the request")


async def policies_for(
    session: AsyncSession, tenant_id: uuid.UUID, key_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AttributePolicy]:
    """The tenant's policies for the given keys, by key id (keys without one are absent)."""
    if not key_ids:
        return {}
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(AttributePolicy).where(AttributePolicy.attribute_key_id.in_(key_ids))
    return {p.attribute_key_id: p for p in (await session.execute(stmt)).scalars()}


# --- target resolution configs (management-api.md §13.8–13.11) ----------------------------------

PRIORITY_TAKEN = "priority already exists among active configs"


@dataclass(frozen=True)
class ConfigWithCriteria:
    config: TargetResolutionConfig
    criteria: list[TargetResolutionCriteria]  # ascending priority


async def _criteria_of(
    session: AsyncSession, tenant_id: uuid.UUID, config_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TargetResolutionCriteria]]:
    """Criteria of several configs in one query, each list in ascending priority."""
    out: dict[uuid.UUID, list[TargetResolutionCriteria]] = {cid: [] for cid in config_ids}
    if not config_ids:
        return out
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(TargetResolutionCriteria)
        .where(TargetResolutionCriteria.config_id.in_(config_ids))
        .order_by(TargetResolutionCriteria.priority, TargetResolutionCriteria.id)
    )
    for item in (await session.execute(stmt)).scalars():
        out[item.config_id].append(item)
    return out


async def list_target_configs(
    session: AsyncSession, tenant_id: uuid.UUID, *, active_only: bool = False
) -> list[ConfigWithCriteria]:
    """The tenant's configs by `priority`, then `createdAt`, each with its criteria."""
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(TargetResolutionConfig)
    if active_only:
        stmt = stmt.where(TargetResolutionConfig.is_active.is_(True))
    stmt = stmt.order_by(
        TargetResolutionConfig.priority,
        TargetResolutionConfig.created_at,
        TargetResolutionConfig.id,
    )
    configs = list((await session.execute(stmt)).scalars())
    criteria = await _criteria_of(session, tenant_id, [c.id for c in configs])
    return [ConfigWithCriteria(c, criteria[c.id]) for c in configs]


def _criteria_rows(
    repo: TenantRepository, config_id: uuid.UUID, items: list[CriteriaInput]
) -> list[TargetResolutionCriteria]:
    rows = []
    for item in criteria_with_priorities(items):
        assert item.priority is not None  # defaulted to the item's index
        rows.append(
            repo.add(
                TargetResolutionCriteria(
                    id=uuid.uuid4(),
                    config_id=config_id,
                    criteria_type=item.type.value,
                    criteria_config=item.config,
                    priority=item.priority,
                )
            )
        )
    return sorted(rows, key=lambda r: r.priority)


async def _commit_config(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # The partial unique index on (tenant, priority) among active configs: the only unique
        # rule these rows have, so a concurrent create loses here with the same 409.
        await session.rollback()
        raise Conflict(PRIORITY_TAKEN) from None


async def create_target_config(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: TargetResolutionConfigCreate,
    *,
    actor: Actor,
) -> ConfigWithCriteria:
    repo = TenantRepository(session, tenant_id)
    config = repo.add(
        TargetResolutionConfig(
            id=uuid.uuid4(),
            resolution_strategy=data.resolution_strategy.value,
            fallback_to_commerce_rep=data.fallback_to_commerce_rep,
            fallback_to_owner=data.fallback_to_owner,
            priority=data.priority,
            is_active=data.is_active,
        )
    )
    criteria = _criteria_rows(repo, config.id, data.criteria)
    audit.record_object(
        session, tenant_id, actor, AuditAction.TARGET_RESOLUTION_CONFIG_CREATED, config,
        criteria=audit.criteria_of(criteria),
    )  # fmt: skip
    await _commit_config(session)
    return ConfigWithCriteria(config, criteria)


async def _get_target_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID
) -> TargetResolutionConfig:
    config = await TenantRepository(session, tenant_id).get(TargetResolutionConfig, config_id)
    if config is None:
        raise NotFound("Target resolution config not found")
    return config


async def update_target_config(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    config_id: uuid.UUID,
    data: TargetResolutionConfigUpdate,
    *,
    actor: Actor,
) -> ConfigWithCriteria:
    """Apply the given fields; a given `criteria` replaces the whole list with new rows."""
    repo = TenantRepository(session, tenant_id)
    config = await _get_target_config(session, tenant_id, config_id)
    before = audit.describe(config)
    given = data.model_fields_set
    for name in (
        "resolution_strategy", "fallback_to_commerce_rep", "fallback_to_owner", "priority",
        "is_active",
    ):  # fmt: skip
        if name in given:
            value = getattr(data, name)
            setattr(config, name, value.value if hasattr(value, "value") else value)
    try:
        if data.criteria is not None:
            await session.execute(
                repo.delete(TargetResolutionCriteria).where(
                    TargetResolutionCriteria.config_id == config.id
                )
            )
            replaced = _criteria_rows(repo, config.id, data.criteria)
            # The criteria changed without touching the config row itself.
            config.updated_at = utcnow()
    except IntegrityError:  # autoflush of a priority change before the DELETE
        await session.rollback()
        raise Conflict(PRIORITY_TAKEN) from None
    new_criteria = {"criteria": audit.criteria_of(replaced)} if data.criteria is not None else {}
    audit.record_changed(
        session, tenant_id, actor, AuditAction.TARGET_RESOLUTION_CONFIG_UPDATED, config, before,
        **new_criteria,
    )  # fmt: skip
    await _commit_config(session)
    criteria = await _criteria_of(session, tenant_id, [config.id])
    return ConfigWithCriteria(config, criteria[config.id])


async def delete_target_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID, *, actor: Actor
) -> None:
    """Delete the config and its criteria; target users already resolved keep their outcome."""
    config = await _get_target_config(session, tenant_id, config_id)
    audit.record_object(
        session, tenant_id, actor, AuditAction.TARGET_RESOLUTION_CONFIG_DELETED, config
    )
    await session.execute(
        TenantRepository(session, tenant_id)
        .delete(TargetResolutionCriteria)
        .where(TargetResolutionCriteria.config_id == config.id)
    )
    await session.delete(config)
    await session.commit()
