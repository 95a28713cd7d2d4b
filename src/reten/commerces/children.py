"""What hangs off a commerce: addresses, commerce users and their roles, contacts.

"One primary per commerce / per (user, type)" is a partial unique index; setting a new primary
clears the old one first, in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Address,
    Commerce,
    CommerceUser,
    CommerceUserRole,
    CommerceUserRoleLink,
    Contact,
    RecordSource,
)
from reten.commerces.plan import WritePlan
from reten.commerces.queries import (
    ADDRESS_FIELDS,
    UserBundle,
    get_address,
    get_commerce,
    get_contact,
    get_user,
    user_bundle,
)
from reten.commerces.schemas import (
    AddressCreate,
    AddressUpdate,
    CommerceUserInput,
    CommerceUserUpdate,
    ContactCreate,
    ContactUpdate,
    check_contact_value,
)
from reten.kit.db import TenantRepository, table_of
from reten.kit.errors import NotFound, ValidationFailed
from reten.kit.time import utcnow
from reten.kit.unique import unique_as_conflict, violated
from reten.kit.validators import split_name

# --- addresses ---------------------------------------------------------------------------------

# Adding a role a concurrent request has just added is no conflict: the outcome asked for holds.
ROLE_UNIQUE = "uq_commerce_user_roles_commerce_user_id_role"


async def _reset_primary_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID
) -> None:
    table = table_of(Address)
    await session.execute(
        TenantRepository(session, tenant_id)
        .update(table)
        .where(table.c.commerce_id == commerce_id, table.c.is_primary.is_(True))
        .values(is_primary=False, updated_at=utcnow())
    )


async def add_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce: Commerce, data: AddressCreate
) -> Address:
    async with unique_as_conflict(session):
        if data.is_primary:
            await _reset_primary_address(session, tenant_id, commerce.id)
        address = TenantRepository(session, tenant_id).add(
            Address(
                id=uuid.uuid4(),
                commerce_id=commerce.id,
                **{name: getattr(data, name) for name in ADDRESS_FIELDS},
                is_primary=data.is_primary,
                is_active=data.is_active,
                source=data.source.value,
                source_ref=data.source_ref,
            )
        )
        await session.commit()
    return address


async def update_address(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    address_id: uuid.UUID,
    data: AddressUpdate,
) -> Address:
    address = await get_address(session, tenant_id, commerce_id, address_id)
    async with unique_as_conflict(session):
        # Clear the old primary before this one is flushed as primary (partial unique index).
        if data.is_primary and not address.is_primary:
            await _reset_primary_address(session, tenant_id, commerce_id)
        for name in data.model_fields_set:
            setattr(address, name, getattr(data, name))
        await session.commit()
    return address


async def delete_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, address_id: uuid.UUID
) -> None:
    address = await get_address(session, tenant_id, commerce_id, address_id)
    await session.delete(address)
    await session.commit()


# --- commerce users and roles ------------------------------------------------------------------


async def add_user(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, data: CommerceUserInput
) -> UserBundle:
    await get_commerce(session, tenant_id, commerce_id)
    plan = WritePlan(tenant_id)
    user_id = plan.add_user(commerce_id, data, default_source=RecordSource.RETEN, stored=None)
    async with unique_as_conflict(session):
        await plan.write(session)
        await session.commit()
    return await user_bundle(session, tenant_id, user_id)


async def update_user(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    data: CommerceUserUpdate,
) -> UserBundle:
    user = await get_user(session, tenant_id, commerce_id, user_id)
    given = data.model_fields_set
    if "name" in given:
        user.first_name, user.last_name = split_name(data.name)
    if "external_id" in given:
        user.external_id = data.external_id
    if data.is_active is not None:
        user.is_active = data.is_active
    async with unique_as_conflict(session):
        await session.commit()
    return await user_bundle(session, tenant_id, user_id)


async def add_role(
    session: AsyncSession, tenant_id: uuid.UUID, user: CommerceUser, role: CommerceUserRole
) -> UserBundle:
    repo = TenantRepository(session, tenant_id)
    held = await session.execute(
        repo.select(CommerceUserRoleLink).where(
            CommerceUserRoleLink.commerce_user_id == user.id,
            CommerceUserRoleLink.role == role.value,
        )
    )
    if held.scalar_one_or_none() is None:
        repo.add(CommerceUserRoleLink(id=uuid.uuid4(), commerce_user_id=user.id, role=role.value))
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            # A concurrent request added the same role: the outcome asked for holds.
            rule = violated(exc)
            if rule is None or rule.name != ROLE_UNIQUE:
                raise
    return await user_bundle(session, tenant_id, user.id)


async def remove_role(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    role: CommerceUserRole,
) -> None:
    await get_user(session, tenant_id, commerce_id, user_id)
    table = table_of(CommerceUserRoleLink)
    result = await session.execute(
        TenantRepository(session, tenant_id)
        .delete(table)
        .where(table.c.commerce_user_id == user_id, table.c.role == role.value)
    )
    if cast(Any, result).rowcount == 0:
        await session.rollback()
        raise NotFound(f"Commerce user does not hold the role {role.value}")
    await session.commit()


# --- contacts ----------------------------------------------------------------------------------


async def _reset_primary_contact(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str
) -> None:
    table = table_of(Contact)
    await session.execute(
        TenantRepository(session, tenant_id)
        .update(table)
        .where(
            table.c.commerce_user_id == user_id,
            table.c.type == kind,
            table.c.is_primary.is_(True),
        )
        .values(is_primary=False, updated_at=utcnow())
    )


async def add_contact(
    session: AsyncSession, tenant_id: uuid.UUID, user: CommerceUser, data: ContactCreate
) -> Contact:
    async with unique_as_conflict(session):
        if data.is_primary:
            await _reset_primary_contact(session, tenant_id, user.id, data.contact_type.value)
        contact = TenantRepository(session, tenant_id).add(
            Contact(
                id=uuid.uuid4(),
                commerce_user_id=user.id,
                type=data.contact_type.value,
                value=data.value,
                is_primary=data.is_primary,
                is_active=data.is_active,
                source=data.source.value,
            )
        )
        await session.commit()
    return contact


async def update_contact(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    contact_id: uuid.UUID,
    data: ContactUpdate,
) -> Contact:
    contact = await get_contact(session, tenant_id, commerce_id, user_id, contact_id)
    value = None
    if data.value is not None:
        try:
            value = check_contact_value(contact.type, data.value)
        except ValueError as exc:
            raise ValidationFailed.one("value", str(exc)) from None
    async with unique_as_conflict(session):
        if data.is_primary and not contact.is_primary:
            await _reset_primary_contact(session, tenant_id, user_id, contact.type)
        if value is not None:
            contact.value = value
        if data.is_primary is not None:
            contact.is_primary = data.is_primary
        if data.is_active is not None:
            contact.is_active = data.is_active
        await session.commit()
    return contact


async def delete_contact(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    contact_id: uuid.UUID,
) -> None:
    contact = await get_contact(session, tenant_id, commerce_id, user_id, contact_id)
    await session.delete(contact)
    await session.commit()
