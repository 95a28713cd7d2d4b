"""The write plan shared by create and sync: what to insert and update, whatever the number of
items, with a fixed number of statements (a few IN reads, one executemany per table and kind).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Address,
    Commerce,
    CommerceUser,
    CommerceUserRoleLink,
    Contact,
    RecordSource,
)
from reten.commerces.queries import ADDRESS_FIELDS
from reten.commerces.schemas import (
    AddressInput,
    CommerceInputBase,
    CommerceSyncItem,
    CommerceUserInput,
)
from reten.kit.db import TenantRepository, table_of
from reten.kit.time import utcnow
from reten.kit.validators import merge_metadata, split_name

# --- the write plan shared by create and sync --------------------------------------------------


# Sync reads plain rows of the columns it needs: building ORM objects for thousands of rows
# would cost more than the statements themselves.
StoredRow = Any  # a Row of the columns below, read by attribute name
STORED_COMMERCE = (
    Commerce.id, Commerce.external_id, Commerce.name, Commerce.global_external_id,
    Commerce.tax_id, Commerce.metadata_, Commerce.is_active, Commerce.is_placeholder,
)  # fmt: skip
STORED_ADDRESS = (
    Address.id, Address.commerce_id, Address.source_ref, Address.is_primary, Address.is_active,
    Address.source, *(getattr(Address, name) for name in ADDRESS_FIELDS),
)  # fmt: skip
STORED_USER = (
    CommerceUser.id, CommerceUser.commerce_id, CommerceUser.external_id,
    CommerceUser.first_name, CommerceUser.last_name,
)  # fmt: skip
STORED_CONTACT = (
    Contact.id, Contact.commerce_user_id, Contact.type, Contact.value, Contact.is_primary,
    Contact.is_active,
)  # fmt: skip


@dataclass
class Stored:
    """Existing children of the matched commerces of a sync, keyed by their match keys."""

    addresses: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)
    primary_address: dict[uuid.UUID, StoredRow] = field(default_factory=dict)
    users: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)
    roles: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    contacts: dict[tuple[uuid.UUID, str, str], StoredRow] = field(default_factory=dict)
    primary_contact: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)


def address_values(address: StoredRow) -> dict[str, Any]:
    values = {name: getattr(address, name) for name in ADDRESS_FIELDS}
    values.update(is_primary=address.is_primary, is_active=address.is_active, source=address.source)
    return values


def last_primary(flags: Iterable[bool]) -> int | None:
    """When several children ask to be primary, the last one wins (each one clears the ones
    before it, as if they had been sent one by one)."""
    winner = None
    for index, flag in enumerate(flags):
        if flag:
            winner = index
    return winner


class WritePlan:
    """Rows to insert and update, collected first and written with one statement per kind."""

    def __init__(self, tenant_id: uuid.UUID) -> None:
        self.tenant_id = tenant_id
        self.now = utcnow()
        self._tick = 0
        self.commerce_inserts: list[dict[str, Any]] = []
        self.commerce_updates: list[dict[str, Any]] = []
        self.tax_releases: list[uuid.UUID] = []
        self.address_inserts: list[dict[str, Any]] = []
        self.address_updates: list[dict[str, Any]] = []
        self.address_demotions: list[dict[str, Any]] = []
        self.user_inserts: list[dict[str, Any]] = []
        self.user_updates: list[dict[str, Any]] = []
        self.role_inserts: list[dict[str, Any]] = []
        self.contact_inserts: list[dict[str, Any]] = []
        self.contact_updates: list[dict[str, Any]] = []
        self.contact_demotions: list[dict[str, Any]] = []

    def _stamp(self) -> datetime:
        # Rows created by one request get increasing timestamps, so lists ordered by createdAt
        # show them in the order the request gave them.
        self._tick += 1
        return self.now + timedelta(microseconds=self._tick)

    def _new_row(self, **values: Any) -> dict[str, Any]:
        stamp = self._stamp()
        return {
            "id": uuid.uuid4(),
            "tenant_id": self.tenant_id,
            "created_at": stamp,
            "updated_at": stamp,
            **values,
        }

    # commerces

    def new_commerce(
        self, item: CommerceInputBase, *, is_active: bool, is_placeholder: bool
    ) -> uuid.UUID:
        row = self._new_row(
            external_id=item.external_id,
            global_external_id=item.global_external_id,
            name=item.name,
            tax_id=item.tax_id,
            metadata=item.metadata,
            is_active=is_active,
            is_placeholder=is_placeholder,
        )
        self.commerce_inserts.append(row)
        return cast(uuid.UUID, row["id"])

    def update_commerce(self, commerce: StoredRow, item: CommerceSyncItem) -> None:
        given = item.model_fields_set
        current = {
            "name": commerce.name,
            "global_external_id": commerce.global_external_id,
            "tax_id": commerce.tax_id,
            "metadata": commerce.metadata_,
            "is_active": commerce.is_active,
            "is_placeholder": commerce.is_placeholder,
        }
        new = dict(current, name=item.name, is_placeholder=False)
        for name in ("global_external_id", "tax_id"):
            if name in given:
                new[name] = getattr(item, name)
        if "metadata" in given:
            new["metadata"] = merge_metadata(commerce.metadata_, item.metadata)
        if item.is_active is not None:
            new["is_active"] = item.is_active
        if new == current:
            return
        self.commerce_updates.append({"id": commerce.id, **new, "updated_at": self.now})
        if commerce.tax_id is not None and new["tax_id"] != commerce.tax_id:
            # Freed before any row takes it: another item of the batch may claim this tax id.
            self.tax_releases.append(commerce.id)

    # addresses

    def add_addresses(
        self,
        commerce_id: uuid.UUID,
        addresses: Sequence[AddressInput],
        *,
        default_source: RecordSource,
        stored: Stored | None,
    ) -> None:
        winner = last_primary(a.is_primary for a in addresses)
        written: set[uuid.UUID] = set()
        for index, given in enumerate(addresses):
            primary = None if winner is None else index == winner
            match = None
            if stored is not None and given.source_ref is not None:
                match = stored.addresses.get((commerce_id, given.source_ref))
            if match is None:
                self.address_inserts.append(
                    self._new_row(
                        commerce_id=commerce_id,
                        **{name: getattr(given, name) for name in ADDRESS_FIELDS},
                        is_primary=bool(primary),
                        is_active=given.is_active,
                        source=(given.source or default_source).value,
                        source_ref=given.source_ref,
                    )
                )
                continue
            written.add(match.id)
            current = address_values(match)
            new = dict(current)
            for name in given.model_fields_set & {*ADDRESS_FIELDS, "is_active", "is_primary"}:
                new[name] = getattr(given, name)
            if given.source is not None:
                new["source"] = given.source.value
            if primary is not None:
                new["is_primary"] = primary
            self._update_address(match.id, current, new)
        old = stored.primary_address.get(commerce_id) if stored is not None else None
        if winner is not None and old is not None and old.id not in written:
            current = address_values(old)
            self._update_address(old.id, current, dict(current, is_primary=False))

    def _update_address(
        self, address_id: uuid.UUID, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if new == current:
            return
        row = {"id": address_id, **new, "updated_at": self.now}
        # A primary that steps down is written before the new one steps up (partial unique
        # index, checked row by row).
        if current["is_primary"] and not new["is_primary"]:
            self.address_demotions.append(row)
        else:
            self.address_updates.append(row)

    # users, roles, contacts

    def add_user(
        self,
        commerce_id: uuid.UUID,
        given: CommerceUserInput,
        *,
        default_source: RecordSource,
        stored: Stored | None,
    ) -> uuid.UUID:
        source = given.source or default_source
        match = None
        if stored is not None and given.external_id is not None:
            match = stored.users.get((commerce_id, given.external_id))
        if match is None:
            first, last = split_name(given.name)
            row = self._new_row(
                commerce_id=commerce_id,
                external_id=given.external_id,
                first_name=first,
                last_name=last,
                source=source.value,
                is_active=True,
            )
            self.user_inserts.append(row)
            user_id = cast(uuid.UUID, row["id"])
            held: set[str] = set()
        else:
            user_id = match.id
            held = stored.roles.get(user_id, set()) if stored else set()
            if "name" in given.model_fields_set:
                first, last = split_name(given.name)
                if (first, last) != (match.first_name, match.last_name):
                    self.user_updates.append(
                        {
                            "id": user_id,
                            "first_name": first,
                            "last_name": last,
                            "updated_at": self.now,
                        }
                    )
        for role in given.roles:
            if role.value not in held:
                self.role_inserts.append(self._new_row(commerce_user_id=user_id, role=role.value))
        self._add_contacts(user_id, given, source, stored if match is not None else None)
        return user_id

    def _add_contacts(
        self,
        user_id: uuid.UUID,
        given: CommerceUserInput,
        user_source: RecordSource,
        stored: Stored | None,
    ) -> None:
        winners: dict[str, int] = {}
        for index, contact in enumerate(given.contacts):
            if contact.is_primary:
                winners[contact.contact_type.value] = index
        written: set[uuid.UUID] = set()
        for index, contact in enumerate(given.contacts):
            kind = contact.contact_type.value
            primary = None if kind not in winners else winners[kind] == index
            match = None
            if stored is not None:
                match = stored.contacts.get((user_id, kind, contact.value))
            if match is None:
                self.contact_inserts.append(
                    self._new_row(
                        commerce_user_id=user_id,
                        type=kind,
                        value=contact.value,
                        is_primary=bool(primary),
                        is_active=contact.is_active,
                        source=(contact.source or user_source).value,
                    )
                )
                continue
            written.add(match.id)
            current = {"is_primary": match.is_primary, "is_active": match.is_active}
            new = dict(current)
            for name in contact.model_fields_set & {"is_primary", "is_active"}:
                new[name] = getattr(contact, name)
            if primary is not None:
                new["is_primary"] = primary
            self._update_contact(match.id, current, new)
        for kind in winners:
            old = stored.primary_contact.get((user_id, kind)) if stored is not None else None
            if old is not None and old.id not in written:
                current = {"is_primary": True, "is_active": old.is_active}
                self._update_contact(old.id, current, dict(current, is_primary=False))

    def _update_contact(
        self, contact_id: uuid.UUID, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if new == current:
            return
        row = {"id": contact_id, **new, "updated_at": self.now}
        if current["is_primary"] and not new["is_primary"]:
            self.contact_demotions.append(row)
        else:
            self.contact_updates.append(row)

    # writing

    async def write(self, session: AsyncSession) -> None:
        tenant_id = self.tenant_id
        commerces, addresses = table_of(Commerce), table_of(Address)
        contacts = table_of(Contact)
        if self.tax_releases:
            await session.execute(
                TenantRepository(session, tenant_id)
                .update(commerces)
                .where(commerces.c.id.in_(self.tax_releases))
                .values(tax_id=None)
            )
        await update_rows(session, commerces, tenant_id, self.commerce_updates)
        await insert_rows(session, commerces, self.commerce_inserts)
        await update_rows(
            session, addresses, tenant_id, self.address_demotions + self.address_updates
        )
        await insert_rows(session, addresses, self.address_inserts)
        await update_rows(session, table_of(CommerceUser), tenant_id, self.user_updates)
        await insert_rows(session, table_of(CommerceUser), self.user_inserts)
        await insert_rows(session, table_of(CommerceUserRoleLink), self.role_inserts)
        await update_rows(
            session, contacts, tenant_id, self.contact_demotions + self.contact_updates
        )
        await insert_rows(session, contacts, self.contact_inserts)


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table), rows)


async def update_rows(
    session: AsyncSession, table: Table, tenant_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """One executemany `UPDATE … WHERE tenant_id = :tenant AND id = :id`; every row carries the
    same columns (the planner writes whole rows, so one statement fits them all)."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    stmt = (
        TenantRepository(session, tenant_id)
        .update(table)
        .where(table.c.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}", type_=table.c[name].type) for name in columns})
    )
    await session.execute(stmt, [{f"_{k}": v for k, v in row.items()} for row in rows])
