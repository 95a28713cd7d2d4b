"""POST /api/commerces/sync (rule S): validate the whole batch, with the problems only storage
can reveal, then write it with the shared write plan, all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Address,
    Commerce,
    CommerceUser,
    CommerceUserRoleLink,
    Contact,
    RecordSource,
)
from reten.commerces.plan import (
    STORED_ADDRESS,
    STORED_COMMERCE,
    STORED_CONTACT,
    STORED_USER,
    Stored,
    StoredRow,
    WritePlan,
)
from reten.commerces.schemas import (
    CommerceSyncItem,
)
from reten.kit.db import TenantRepository
from reten.kit.sync import SyncBatch, SyncRejected
from reten.kit.unique import unique_as_conflict


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    total: int


def _check_batch(batch: SyncBatch[CommerceSyncItem], stored: Sequence[StoredRow]) -> None:
    """Rule S problems that need more than one item, or the stored rows, to be seen."""
    valid = batch.valid()
    items_by_external_id = {item.external_id: item for _, item in valid}
    claims: dict[str, list[int]] = {}
    for index, item in valid:
        if "tax_id" in item.model_fields_set and item.tax_id is not None:
            claims.setdefault(item.tax_id, []).append(index)
    holders: dict[str, list[StoredRow]] = {}
    for commerce in stored:
        if commerce.tax_id is not None:
            holders.setdefault(commerce.tax_id, []).append(commerce)
    for tax_id, indexes in claims.items():
        first = indexes[0]
        for index in indexes[1:]:
            batch.add(index, ("tax_id",), f"must be unique in the request (same as items[{first}])")
        claimant = batch.items[first]
        assert claimant is not None
        for holder in holders.get(tax_id, ()):
            if holder.external_id == claimant.external_id:
                continue
            # The holder keeps the tax id unless this batch gives it another one.
            other = items_by_external_id.get(holder.external_id)
            released = other is not None and "tax_id" in other.model_fields_set
            if not released or (other is not None and other.tax_id == tax_id):
                batch.add(first, ("tax_id",), "tax_id already exists")
                break


async def _load_stored_children(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    matched: Sequence[tuple[uuid.UUID, CommerceSyncItem]],
) -> Stored:
    """The children the batch may match, with at most four IN queries."""
    repo = TenantRepository(session, tenant_id)
    stored = Stored()
    refs = {a.source_ref for _, item in matched for a in item.addresses if a.source_ref}
    # Commerces whose addresses may match, or whose stored primary may have to step down.
    with_addresses = [
        cid
        for cid, item in matched
        if any(a.source_ref is not None or a.is_primary for a in item.addresses)
    ]
    if with_addresses:
        wanted: ColumnElement[bool] = Address.is_primary.is_(True)
        if refs:
            wanted = or_(wanted, Address.source_ref.in_(refs))
        address_rows = await session.execute(
            repo.where(Address, select(*STORED_ADDRESS)).where(
                Address.commerce_id.in_(with_addresses), wanted
            )
        )
        for address in address_rows:
            if address.source_ref is not None:
                stored.addresses[(address.commerce_id, address.source_ref)] = address
            if address.is_primary:
                stored.primary_address[address.commerce_id] = address
    user_ids = {u.external_id for _, item in matched for u in item.users}
    with_users = [cid for cid, item in matched if item.users]
    if not user_ids:
        return stored
    user_rows = await session.execute(
        repo.where(CommerceUser, select(*STORED_USER)).where(
            CommerceUser.commerce_id.in_(with_users), CommerceUser.external_id.in_(user_ids)
        )
    )
    for user in user_rows:
        assert user.external_id is not None
        stored.users[(user.commerce_id, user.external_id)] = user
    known = [u.id for u in stored.users.values()]
    if not known:
        return stored
    if any(u.roles for _, item in matched for u in item.users):
        role_rows = await session.execute(
            repo.where(
                CommerceUserRoleLink,
                select(CommerceUserRoleLink.commerce_user_id, CommerceUserRoleLink.role),
            ).where(CommerceUserRoleLink.commerce_user_id.in_(known))
        )
        for user_id, role in role_rows:
            stored.roles.setdefault(user_id, set()).add(role)
    if any(u.contacts for _, item in matched for u in item.users):
        contact_rows = await session.execute(
            repo.where(Contact, select(*STORED_CONTACT)).where(Contact.commerce_user_id.in_(known))
        )
        for contact in contact_rows:
            stored.contacts[(contact.commerce_user_id, contact.type, contact.value)] = contact
            if contact.is_primary:
                stored.primary_contact[(contact.commerce_user_id, contact.type)] = contact
    return stored


async def sync(
    session: AsyncSession, tenant_id: uuid.UUID, batch: SyncBatch[CommerceSyncItem]
) -> SyncResult:
    """POST /api/commerces/sync: validate every item, then write all of them or nothing."""
    first: dict[str, int] = {}
    for index, item in batch.valid():
        if item.external_id in first:
            batch.add(
                index,
                ("external_id",),
                f"must be unique in the request (same as items[{first[item.external_id]}])",
            )
        else:
            first[item.external_id] = index
    valid = [(i, item) for i, item in batch.valid() if i not in batch.problems]
    stored: list[StoredRow] = []
    if valid:
        repo = TenantRepository(session, tenant_id)
        taxes = {item.tax_id for _, item in valid if item.tax_id is not None}
        criteria: list[ColumnElement[bool]] = [
            Commerce.external_id.in_([item.external_id for _, item in valid])
        ]
        if taxes:
            criteria.append(Commerce.tax_id.in_(taxes))
        # Locked until commit: rule M merges into the stored metadata, and whole rows are written.
        stmt = repo.where(Commerce, select(*STORED_COMMERCE)).where(or_(*criteria))
        stored = list(await session.execute(stmt.with_for_update()))
    _check_batch(batch, stored)
    if batch.problems:
        await session.rollback()
        raise SyncRejected(batch)

    by_external_id = {c.external_id: c for c in stored}
    plan = WritePlan(tenant_id)
    targets: list[tuple[uuid.UUID, CommerceSyncItem]] = []
    matched: list[tuple[uuid.UUID, CommerceSyncItem]] = []
    for _, item in valid:
        existing = by_external_id.get(item.external_id)
        if existing is None:
            commerce_id = plan.new_commerce(
                item,
                is_active=item.is_active if item.is_active is not None else True,
                is_placeholder=False,
            )
        else:
            commerce_id = existing.id
            plan.update_commerce(existing, item)
            matched.append((commerce_id, item))
        targets.append((commerce_id, item))
    children = await _load_stored_children(session, tenant_id, matched)
    matched_ids = {commerce_id for commerce_id, _ in matched}
    for commerce_id, item in targets:
        known = children if commerce_id in matched_ids else None
        plan.add_addresses(
            commerce_id, item.addresses, default_source=RecordSource.INTEGRATION, stored=known
        )
        for user in item.users:
            plan.add_user(commerce_id, user, default_source=RecordSource.INTEGRATION, stored=known)
    async with unique_as_conflict(session):
        await plan.write(session)
        await session.commit()
    return SyncResult(
        created=len(valid) - len(matched), updated=len(matched), total=len(batch.items)
    )
