"""Operators: create, list, read, update, deactivate and bulk sync (management-api.md §9).

Uniqueness (email; type + external_id) is the database's job: writes go ahead and a unique
violation is turned into a 409 naming the field, so two concurrent creates of one key leave one
row and one 409 instead of racing past a check made in Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.kit.db import TenantRepository
from reten.kit.errors import Conflict, NotFound
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.kit.sync import SyncBatch, SyncResultRead
from reten.kit.time import utcnow
from reten.kit.unique import conflict_of, unique_as_conflict
from reten.kit.validators import merge_metadata, split_name
from reten.operators.models import KEY_TAKEN, Operator, OperatorType
from reten.operators.schemas import (
    OperatorCreate,
    OperatorRouteRead,
    OperatorSyncItem,
    OperatorUpdate,
)
from reten.routes.models import Route, RouteOperator

SORTS: dict[str, Any] = {"name": Operator.first_name, "created_at": Operator.created_at}


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


async def get(session: AsyncSession, tenant_id: uuid.UUID, operator_id: uuid.UUID) -> Operator:
    operator = await TenantRepository(session, tenant_id).get(Operator, operator_id)
    if operator is None:
        raise NotFound("Operator not found")
    return operator


async def create(session: AsyncSession, tenant_id: uuid.UUID, data: OperatorCreate) -> Operator:
    first, last = split_name(data.name)
    operator = TenantRepository(session, tenant_id).add(
        Operator(
            id=uuid.uuid4(),
            type=data.type.value,
            external_id=data.external_id,
            first_name=first,
            last_name=last,
            email=data.email,
            phone=data.phone,
            metadata_=merge_metadata({}, data.metadata),
            is_active=True,
            is_placeholder=data.is_placeholder,
        )
    )
    async with unique_as_conflict(session):
        await session.commit()
    return operator


@dataclass(frozen=True)
class OperatorFilters:
    search: str | None = None
    type: OperatorType | None = None
    is_active: bool | None = None
    is_placeholder: bool | None = None
    external_id: str | None = None
    route_id: uuid.UUID | None = None


def _full_name() -> ColumnElement[str]:
    # Rule N stores the name in two parts; search matches the name as it is shown.
    return func.coalesce(Operator.first_name, "") + " " + func.coalesce(Operator.last_name, "")


def _order_by(sort: str | None) -> list[Any]:
    clauses = parse_sort(sort, SORTS, "name", Operator.id)
    if (sort or "name").lstrip("-") == "name":
        # "Ana" sorts before "Ana Rojas": a missing last name comes first in ascending order.
        last = Operator.last_name
        descending = (sort or "").startswith("-")
        clauses.insert(1, last.desc().nulls_last() if descending else last.asc().nulls_first())
    return clauses


async def list_operators(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: OperatorFilters,
    sort: str | None,
    params: PageParams,
) -> tuple[list[Operator], int, bool]:
    """One page of operators, the total and whether the total is an estimate."""
    order_by = _order_by(sort)
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Operator)
    if filters.search is not None:
        stmt = stmt.where(search_clause(filters.search, [_full_name(), Operator.email]))
    if filters.type is not None:
        stmt = stmt.where(Operator.type == filters.type.value)
    if filters.is_active is not None:
        stmt = stmt.where(Operator.is_active.is_(filters.is_active))
    if filters.is_placeholder is not None:
        stmt = stmt.where(Operator.is_placeholder.is_(filters.is_placeholder))
    if filters.external_id is not None:
        stmt = stmt.where(Operator.external_id == filters.external_id)
    if filters.route_id is not None:
        linked = repo.where(RouteOperator, select(RouteOperator.operator_id)).where(
            RouteOperator.route_id == filters.route_id, RouteOperator.is_active.is_(True)
        )
        stmt = stmt.where(Operator.id.in_(linked))
    return await paginate(session, stmt, order_by, params)


async def detail(
    session: AsyncSession, tenant_id: uuid.UUID, operator_id: uuid.UUID
) -> tuple[Operator, list[OperatorRouteRead]]:
    """The operator and its route links (active or not), ordered by route name."""
    operator = await get(session, tenant_id, operator_id)
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(RouteOperator)
        .with_only_columns(
            Route.id, Route.name, Route.external_id, RouteOperator.role, RouteOperator.is_active
        )
        .join_from(RouteOperator, Route, Route.id == RouteOperator.route_id)
        .where(RouteOperator.operator_id == operator.id)
        .order_by(Route.name, Route.id)
    )
    routes = [
        OperatorRouteRead(
            id=row.id,
            name=row.name,
            external_id=row.external_id,
            role=row.role,
            link_active=row.is_active,
        )
        for row in (await session.execute(stmt)).all()
    ]
    return operator, routes


async def update_operator(
    session: AsyncSession, tenant_id: uuid.UUID, operator_id: uuid.UUID, data: OperatorUpdate
) -> Operator:
    operator = await get(session, tenant_id, operator_id)
    given = data.model_fields_set
    if data.name is not None:
        operator.first_name, operator.last_name = split_name(data.name)
    if "email" in given:
        operator.email = data.email
    if "phone" in given:
        operator.phone = data.phone
    if data.is_active is not None:
        operator.is_active = data.is_active
    if data.metadata is not None:
        operator.metadata_ = merge_metadata(operator.metadata_, data.metadata)
    async with unique_as_conflict(session):
        await session.commit()
    return operator


async def deactivate(session: AsyncSession, tenant_id: uuid.UUID, operator_id: uuid.UUID) -> None:
    """DELETE keeps the row and its route links; calling it again changes nothing."""
    operator = await get(session, tenant_id, operator_id)
    if operator.is_active:
        operator.is_active = False
        await session.commit()


def changed(row: Any, values: dict[str, Any]) -> bool:
    """Whether writing `values` (ORM attribute names) would change the loaded `row`."""
    return any(getattr(row, name) != value for name, value in values.items())


async def sync(
    session: AsyncSession, tenant_id: uuid.UUID, batch: SyncBatch[OperatorSyncItem]
) -> SyncResultRead:
    """Rule S: validate the whole batch, then write it with a fixed number of statements.

    A concurrent writer can still insert one of our keys between the check and the insert; the
    unique index refuses our insert, and one more pass sees that row and updates it instead.
    """
    for attempt in (1, 2):
        try:
            return await _sync_once(session, tenant_id, batch)
        except IntegrityError as exc:
            await session.rollback()
            if attempt == 2:
                # The declared field when the database names it; the match key otherwise.
                raise (conflict_of(exc) or Conflict(KEY_TAKEN)) from None
    raise AssertionError("unreachable")


async def _sync_once(
    session: AsyncSession, tenant_id: uuid.UUID, batch: SyncBatch[OperatorSyncItem]
) -> SyncResultRead:
    repo = TenantRepository(session, tenant_id)
    items = list(batch.valid())

    first_of_key: dict[tuple[str, str], int] = {}
    first_of_email: dict[str, int] = {}
    for index, item in items:
        key = (item.type.value, item.external_id)
        if key in first_of_key:
            batch.add(
                index,
                ("external_id",),
                f"same type + external_id as {batch.path(first_of_key[key])}",
            )
        else:
            first_of_key[key] = index
        if item.email is not None:
            if item.email in first_of_email:
                batch.add(
                    index, ("email",), f"same email as {batch.path(first_of_email[item.email])}"
                )
            else:
                first_of_email[item.email] = index

    # Every stored row the batch can touch, in two IN queries whatever the batch size.
    existing: dict[tuple[str, str | None], Operator] = {}
    external_ids = {item.external_id for _, item in items}
    if external_ids:
        stmt = repo.select(Operator).where(Operator.external_id.in_(external_ids))
        existing = {(o.type, o.external_id): o for o in (await session.execute(stmt)).scalars()}
    holders: dict[str, tuple[str, str | None]] = {}
    if first_of_email:
        stmt_emails = (
            repo.select(Operator)
            .with_only_columns(Operator.email, Operator.type, Operator.external_id)
            .where(Operator.email.in_(first_of_email))
        )
        holders = {r.email: (r.type, r.external_id) for r in (await session.execute(stmt_emails))}
    for index, item in items:
        holder = holders.get(item.email) if item.email is not None else None
        if holder is not None and holder != (item.type.value, item.external_id):
            batch.add(index, ("email",), "already exists")
    batch.reject_if_invalid()

    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    matched = 0
    for _, item in items:
        first, last = split_name(item.name)
        given = item.model_fields_set
        stored = existing.get((item.type.value, item.external_id))
        if stored is None:
            inserts.append(
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "type": item.type.value,
                    "external_id": item.external_id,
                    "first_name": first,
                    "last_name": last,
                    "email": item.email,
                    "phone": item.phone,
                    "metadata_": merge_metadata({}, item.metadata or {}),
                    "is_active": item.is_active if item.is_active is not None else True,
                    "is_placeholder": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        matched += 1
        values = {
            "first_name": first,
            "last_name": last,
            "email": item.email if "email" in given else stored.email,
            "phone": item.phone if "phone" in given else stored.phone,
            "metadata_": (
                merge_metadata(stored.metadata_, item.metadata)
                if item.metadata is not None
                else stored.metadata_
            ),
            "is_active": item.is_active if item.is_active is not None else stored.is_active,
            "is_placeholder": False,
        }
        # An unchanged row is counted as updated but not written (its updatedAt stays put).
        # Rows that change all carry the same keys, so the list is one executemany.
        if changed(stored, values):
            updates.append({"id": stored.id, **values, "updated_at": now})
    if inserts:
        await session.execute(insert(Operator), inserts)
    if updates:
        await session.execute(update(Operator), updates)
    await session.commit()
    return SyncResultRead(created=len(inserts), updated=matched, total=len(batch.items))
