"""Commerces (the create path the demo and the tests use; the full API builds on it)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import Commerce
from reten.kit.db import TenantRepository


async def create_commerce(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    external_id: str,
    name: str,
    tax_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    is_active: bool = True,
) -> Commerce:
    """Add a commerce to the session; the caller commits."""
    commerce = TenantRepository(session, tenant_id).add(
        Commerce(
            id=uuid.uuid4(),
            external_id=external_id,
            name=name,
            tax_id=tax_id,
            metadata_=metadata or {},
            is_active=is_active,
        )
    )
    await session.flush()
    return commerce


async def get_by_external_id(
    session: AsyncSession, tenant_id: uuid.UUID, external_id: str
) -> Commerce | None:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Commerce).where(Commerce.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()
