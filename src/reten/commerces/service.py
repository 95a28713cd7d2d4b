"""Commerces and what hangs off them: addresses, commerce users, their roles and contacts.

Uniqueness is the database's job: every write commits under `kit.unique.unique_as_conflict`,
which turns a unique violation into the 409 naming the field (declared on the models), so two
concurrent creates of one key end with one row and one 409 instead of a check-then-insert race. "One primary per commerce / per (user, type)"
is a partial unique index; setting a new primary clears the old one first, in the same
transaction.

Sync (rule S) validates the whole batch, then writes it with a fixed number of statements
whatever the number of items: existing rows are read with a few IN queries, new rows are
inserted and matched rows updated with one executemany each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces.models import (
    Address,
    Commerce,
    CommerceUser,
    CommerceUserRole,
    CommerceUserRoleLink,
    Contact,
    ContactType,
    RecordSource,
)
from reten.commerces.schemas import (
    AddressCreate,
    AddressInput,
    AddressUpdate,
    CommerceCreate,
    CommerceInputBase,
    CommerceSyncItem,
    CommerceUpdate,
    CommerceUserInput,
    CommerceUserUpdate,
    ContactCreate,
    ContactUpdate,
    check_contact_value,
)
from reten.kit.db import Base, TenantRepository
from reten.kit.errors import NotFound, ValidationFailed
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.kit.sync import SyncBatch, SyncRejected
from reten.kit.time import utcnow
from reten.kit.unique import unique_as_conflict, violated
from reten.kit.validators import merge_metadata, split_name
from reten.routes.models import RouteCommerce

ADDRESS_FIELDS = (
    "address_alias", "street", "street_number", "unit", "city", "commune", "region",
    "country_code", "formatted_address", "latitude", "longitude",
)  # fmt: skip
ROLE_ORDER = {role.value: i for i, role in enumerate(CommerceUserRole)}
CONTACT_TYPE_ORDER = {kind.value: i for i, kind in enumerate(ContactType)}
SORTS = {"name": Commerce.name, "created_at": Commerce.created_at}
# Adding a role a concurrent request has just added is no conflict: the outcome asked for holds.
ROLE_UNIQUE = "uq_commerce_user_roles_commerce_user_id_role"


# --- the create path the demo, the results service and the tests use ---------------------------


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


# --- what the API returns ----------------------------------------------------------------------


@dataclass
class UserBundle:
    user: CommerceUser
    roles: list[str]
    contacts: list[Contact]


@dataclass
class CommerceBundle:
    commerce: Commerce
    addresses: list[Address]
    users: list[UserBundle]


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    total: int


@dataclass(frozen=True)
class CommerceFilters:
    search: str | None = None
    external_id: str | None = None
    global_external_id: str | None = None
    tax_id: str | None = None
    is_active: bool | None = None
    is_placeholder: bool | None = None
    route_id: uuid.UUID | None = None


# --- reads -------------------------------------------------------------------------------------


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _fresh(stmt: Select[Any]) -> Select[Any]:
    # Bulk statements change rows behind the identity map; reads that build a response must
    # see the stored values, not the objects loaded earlier in the request.
    return stmt.execution_options(populate_existing=True)


async def get_commerce(session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID) -> Commerce:
    commerce = await TenantRepository(session, tenant_id).get(Commerce, id_)
    if commerce is None:
        raise NotFound("Commerce not found")
    return commerce


async def get_user(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, user_id: uuid.UUID
) -> CommerceUser:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(CommerceUser).where(
        CommerceUser.id == user_id, CommerceUser.commerce_id == commerce_id
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        await get_commerce(session, tenant_id, commerce_id)
        raise NotFound("Commerce user not found")
    return user


async def _get_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, address_id: uuid.UUID
) -> Address:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Address).where(Address.id == address_id, Address.commerce_id == commerce_id)
    address = (await session.execute(stmt)).scalar_one_or_none()
    if address is None:
        await get_commerce(session, tenant_id, commerce_id)
        raise NotFound("Address not found")
    return address


async def _get_contact(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commerce_id: uuid.UUID,
    user_id: uuid.UUID,
    contact_id: uuid.UUID,
) -> Contact:
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(Contact)
        .join(CommerceUser, CommerceUser.id == Contact.commerce_user_id)
        .where(
            Contact.id == contact_id,
            Contact.commerce_user_id == user_id,
            CommerceUser.commerce_id == commerce_id,
        )
    )
    contact = (await session.execute(stmt)).scalar_one_or_none()
    if contact is None:
        await get_user(session, tenant_id, commerce_id, user_id)
        raise NotFound("Contact not found")
    return contact


async def _user_children(
    session: AsyncSession, tenant_id: uuid.UUID, users: Any
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, list[Contact]]]:
    """Roles and contacts of the users selected by `users` (ids or a subquery of ids), in the
    response order: roles in the enum's order, contacts by type then primary first."""
    repo = TenantRepository(session, tenant_id)
    roles: dict[uuid.UUID, list[str]] = {}
    role_rows = await session.execute(
        repo.select(CommerceUserRoleLink).where(CommerceUserRoleLink.commerce_user_id.in_(users))
    )
    for link in role_rows.scalars():
        roles.setdefault(link.commerce_user_id, []).append(link.role)
    for held in roles.values():
        held.sort(key=lambda r: ROLE_ORDER.get(r, len(ROLE_ORDER)))
    contacts: dict[uuid.UUID, list[Contact]] = {}
    contact_rows = await session.execute(
        _fresh(repo.select(Contact).where(Contact.commerce_user_id.in_(users)))
    )
    for contact in contact_rows.scalars():
        contacts.setdefault(contact.commerce_user_id, []).append(contact)
    for listed in contacts.values():
        listed.sort(
            key=lambda c: (CONTACT_TYPE_ORDER.get(c.type, 99), not c.is_primary, c.created_at, c.id)
        )
    return roles, contacts


async def user_bundle(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> UserBundle:
    repo = TenantRepository(session, tenant_id)
    user = (
        await session.execute(_fresh(repo.select(CommerceUser).where(CommerceUser.id == user_id)))
    ).scalar_one()
    roles, contacts = await _user_children(session, tenant_id, [user_id])
    return UserBundle(user, roles.get(user_id, []), contacts.get(user_id, []))


async def bundles(
    session: AsyncSession, tenant_id: uuid.UUID, commerces: Sequence[Commerce]
) -> list[CommerceBundle]:
    """Commerces with every child, in four queries whatever their number (no N+1)."""
    if not commerces:
        return []
    repo = TenantRepository(session, tenant_id)
    ids = [c.id for c in commerces]
    addresses: dict[uuid.UUID, list[Address]] = {}
    address_rows = await session.execute(
        _fresh(
            repo.select(Address)
            .where(Address.commerce_id.in_(ids))
            .order_by(Address.is_primary.desc(), Address.created_at, Address.id)
        )
    )
    for address in address_rows.scalars():
        addresses.setdefault(address.commerce_id, []).append(address)
    user_rows = await session.execute(
        _fresh(
            repo.select(CommerceUser)
            .where(CommerceUser.commerce_id.in_(ids))
            .order_by(CommerceUser.created_at, CommerceUser.id)
        )
    )
    users = list(user_rows.scalars())
    roles: dict[uuid.UUID, list[str]] = {}
    contacts: dict[uuid.UUID, list[Contact]] = {}
    if users:
        of_these = repo.where(CommerceUser, select(CommerceUser.id)).where(
            CommerceUser.commerce_id.in_(ids)
        )
        roles, contacts = await _user_children(session, tenant_id, of_these)
    by_commerce: dict[uuid.UUID, list[UserBundle]] = {}
    for user in users:
        by_commerce.setdefault(user.commerce_id, []).append(
            UserBundle(user, roles.get(user.id, []), contacts.get(user.id, []))
        )
    return [
        CommerceBundle(c, addresses.get(c.id, []), by_commerce.get(c.id, [])) for c in commerces
    ]


async def get_detail(session: AsyncSession, tenant_id: uuid.UUID, id_: uuid.UUID) -> CommerceBundle:
    repo = TenantRepository(session, tenant_id)
    commerce = (
        await session.execute(_fresh(repo.select(Commerce).where(Commerce.id == id_)))
    ).scalar_one_or_none()
    if commerce is None:
        raise NotFound("Commerce not found")
    return (await bundles(session, tenant_id, [commerce]))[0]


async def list_commerces(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: CommerceFilters,
    *,
    sort: str | None,
    page: PageParams,
) -> tuple[list[Commerce], int, bool]:
    order_by = parse_sort(sort, SORTS, "name", Commerce.id)
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Commerce)
    if filters.search is not None:
        stmt = stmt.where(search_clause(filters.search, [Commerce.name, Commerce.external_id]))
    exact: list[tuple[Any, Any]] = [
        (Commerce.external_id, filters.external_id),
        (Commerce.global_external_id, filters.global_external_id),
        (Commerce.tax_id, filters.tax_id),
        (Commerce.is_active, filters.is_active),
        (Commerce.is_placeholder, filters.is_placeholder),
    ]
    for column, value in exact:
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.route_id is not None:
        on_route = repo.where(RouteCommerce, select(RouteCommerce.commerce_id)).where(
            RouteCommerce.route_id == filters.route_id
        )
        stmt = stmt.where(Commerce.id.in_(on_route))
    return await paginate(session, stmt, order_by, page)


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
class _Stored:
    """Existing children of the matched commerces of a sync, keyed by their match keys."""

    addresses: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)
    primary_address: dict[uuid.UUID, StoredRow] = field(default_factory=dict)
    users: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)
    roles: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    contacts: dict[tuple[uuid.UUID, str, str], StoredRow] = field(default_factory=dict)
    primary_contact: dict[tuple[uuid.UUID, str], StoredRow] = field(default_factory=dict)


def _address_values(address: StoredRow) -> dict[str, Any]:
    values = {name: getattr(address, name) for name in ADDRESS_FIELDS}
    values.update(is_primary=address.is_primary, is_active=address.is_active, source=address.source)
    return values


def _last_primary(flags: Iterable[bool]) -> int | None:
    """When several children ask to be primary, the last one wins (each one clears the ones
    before it, as if they had been sent one by one)."""
    winner = None
    for index, flag in enumerate(flags):
        if flag:
            winner = index
    return winner


class _Plan:
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
        stored: _Stored | None,
    ) -> None:
        winner = _last_primary(a.is_primary for a in addresses)
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
            current = _address_values(match)
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
            current = _address_values(old)
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
        stored: _Stored | None,
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
        stored: _Stored | None,
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
        commerces, addresses = _table(Commerce), _table(Address)
        contacts = _table(Contact)
        if self.tax_releases:
            await session.execute(
                TenantRepository(session, tenant_id)
                .update(commerces)
                .where(commerces.c.id.in_(self.tax_releases))
                .values(tax_id=None)
            )
        await _update_rows(session, commerces, tenant_id, self.commerce_updates)
        await _insert_rows(session, commerces, self.commerce_inserts)
        await _update_rows(
            session, addresses, tenant_id, self.address_demotions + self.address_updates
        )
        await _insert_rows(session, addresses, self.address_inserts)
        await _update_rows(session, _table(CommerceUser), tenant_id, self.user_updates)
        await _insert_rows(session, _table(CommerceUser), self.user_inserts)
        await _insert_rows(session, _table(CommerceUserRoleLink), self.role_inserts)
        await _update_rows(
            session, contacts, tenant_id, self.contact_demotions + self.contact_updates
        )
        await _insert_rows(session, contacts, self.contact_inserts)


async def _insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table), rows)


async def _update_rows(
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


# --- commerces ---------------------------------------------------------------------------------


async def create(
    session: AsyncSession, tenant_id: uuid.UUID, data: CommerceCreate
) -> CommerceBundle:
    plan = _Plan(tenant_id)
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


# --- sync --------------------------------------------------------------------------------------


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
) -> _Stored:
    """The children the batch may match, with at most four IN queries."""
    repo = TenantRepository(session, tenant_id)
    stored = _Stored()
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
    plan = _Plan(tenant_id)
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


# --- addresses ---------------------------------------------------------------------------------


async def _reset_primary_address(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID
) -> None:
    table = _table(Address)
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
    address = await _get_address(session, tenant_id, commerce_id, address_id)
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
    address = await _get_address(session, tenant_id, commerce_id, address_id)
    await session.delete(address)
    await session.commit()


# --- commerce users and roles ------------------------------------------------------------------


async def add_user(
    session: AsyncSession, tenant_id: uuid.UUID, commerce_id: uuid.UUID, data: CommerceUserInput
) -> UserBundle:
    await get_commerce(session, tenant_id, commerce_id)
    plan = _Plan(tenant_id)
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
    table = _table(CommerceUserRoleLink)
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
    table = _table(Contact)
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
    contact = await _get_contact(session, tenant_id, commerce_id, user_id, contact_id)
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
    contact = await _get_contact(session, tenant_id, commerce_id, user_id, contact_id)
    await session.delete(contact)
    await session.commit()
