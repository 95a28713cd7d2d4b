"""Commerce writes: create (alone or with its children), update, deactivate.

The package splits by job: `queries` reads, `plan` is the write plan shared by create and
`sync`, `children` holds addresses, commerce users, roles and contacts.

Uniqueness is the database's job: every write commits under `kit.unique.unique_as_conflict`,
which turns a unique violation into the 409 naming the field (declared on the models), so two
concurrent creates of one key end with one row and one 409 instead of a check-then-insert race.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Commerce,
    RecordSource,
)
from reten.commerces.plan import WritePlan
from reten.commerces.queries import CommerceBundle, get_commerce, get_detail
from reten.commerces.schemas import (
    CommerceCreate,
    CommerceUpdate,
)
from reten.kit.db import TenantRepository
from reten.kit.unique import unique_as_conflict
from reten.kit.validators import merge_metadata

# --- a bare commerce (the demo and data seeding add them one by one) ---------------------------


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


# --- commerces ---------------------------------------------------------------------------------


async def create(
    session: AsyncSession, tenant_id: uuid.UUID, data: CommerceCreate
) -> CommerceBundle:
    plan = WritePlan(tenant_id)
    commerce_id = plan.new_commerce(
        data, is_active=data.is_active, is_placeholder=data.is_placeholder
    )
    plan.add_addresses(commerce_id, data.addresses, default_source=RecordSource.RETEN, stored=None)
    for user in data.users:
        plan.add_user(commerce_id, user, default_source=RecordSource.RETEN, stored=None)
    async with unique_as_conflict(session):
        await plan.write(session)
        await session.commit()
    return await get_detail(session, tenant_id, commerce_id)


async def update_commerce(
    session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID, data: CommerceUpdate
) -> CommerceBundle:
    commerce = await get_commerce(session, tenant_id, id_)
    given = data.model_fields_set
    if data.name is not None:
        commerce.name = data.name
    if "tax_id" in given:
        commerce.tax_id = data.tax_id
    if "global_external_id" in given:
        commerce.global_external_id = data.global_external_id
    if data.is_active is not None:
        commerce.is_active = data.is_active
    if data.metadata is not None:
        commerce.metadata_ = merge_metadata(commerce.metadata_, data.metadata)
    async with unique_as_conflict(session):
        await session.commit()
    return await get_detail(session, tenant_id, id_)


async def deactivate(session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID) -> None:
    commerce = await get_commerce(session, tenant_id, id_)
    if commerce.is_active:
        commerce.is_active = False
        await session.commit()
