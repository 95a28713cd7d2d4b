"""Routes and their operator/commerce links (create paths used by the demo and the tests)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from reten.kit.db import TenantRepository
from reten.routes.models import Route, RouteCommerce, RouteOperator, RouteOperatorRole


async def create_route(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    external_id: str,
    name: str,
    description: str | None = None,
) -> Route:
    route = TenantRepository(session, tenant_id).add(
        Route(
            id=uuid.uuid4(),
            external_id=external_id,
            name=name,
            description=description,
            metadata_={},
        )
    )
    await session.flush()
    return route


async def assign_operator(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    route_id: uuid.UUID,
    operator_id: uuid.UUID,
    role: RouteOperatorRole = RouteOperatorRole.MEMBER,
) -> RouteOperator:
    link = TenantRepository(session, tenant_id).add(
        RouteOperator(id=uuid.uuid4(), route_id=route_id, operator_id=operator_id, role=role.value)
    )
    await session.flush()
    return link


async def assign_commerce(
    session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID, commerce_id: uuid.UUID
) -> RouteCommerce:
    link = TenantRepository(session, tenant_id).add(
        RouteCommerce(id=uuid.uuid4(), route_id=route_id, commerce_id=commerce_id)
    )
    await session.flush()
    return link
