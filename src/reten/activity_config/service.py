"""Activity configuration: the tenant's task result types."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activity_config.models import AttributeKey, TaskResultType
from reten.activity_config.schemas import TaskResultTypeCreate, TaskResultTypeUpdate
from reten.kit.db import TenantRepository
from reten.kit.errors import Conflict, NotFound
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
    session: AsyncSession, tenant_id: uuid.UUID, data: TaskResultTypeCreate
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


async def update_type(
    session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID, data: TaskResultTypeUpdate
) -> TaskResultType:
    item = await _get(session, tenant_id, type_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            continue  # none of these fields is nullable; an explicit null leaves it unchanged
        setattr(item, field, value.value if hasattr(value, "value") else value)
    await session.commit()
    return item


async def delete_type(
    session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID
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
        await session.delete(item)
        await session.commit()
        return None
    item.is_active = False
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
