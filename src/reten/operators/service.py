"""Operators (the create path the demo and the tests use; the full API builds on it)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from reten.kit.db import TenantRepository
from reten.kit.validators import split_name
from reten.operators.models import Operator, OperatorType


async def create_operator(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    external_id: str,
    name: str | None,
    type: OperatorType = OperatorType.SALESMAN,
    email: str | None = None,
    phone: str | None = None,
) -> Operator:
    """Add an operator to the session; the caller commits."""
    first, last = split_name(name)
    operator = TenantRepository(session, tenant_id).add(
        Operator(
            id=uuid.uuid4(),
            type=type.value,
            external_id=external_id,
            first_name=first,
            last_name=last,
            email=email.lower() if email else None,
            phone=phone,
            metadata_={},
        )
    )
    await session.flush()
    return operator


async def find_by_external_id(
    session: AsyncSession, tenant_id: uuid.UUID, external_id: str
) -> Operator | None:
    """The operator with this external id (any type); the first by creation if several."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(Operator)
        .where(Operator.external_id == external_id)
        .order_by(Operator.created_at, Operator.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
