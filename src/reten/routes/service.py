"""Routes and their operator/commerce links (management-api.md §10).

Links are idempotent to create (the unique (route, operator) and (route, commerce) indexes make a
concurrent duplicate fail, and the loser re-reads the winner's row) and permanent to delete.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.commerces import queries as commerces
from reten.commerces.models import Commerce
from reten.kit.db import TenantRepository
from reten.kit.errors import Conflict, NotFound, ValidationFailed
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.kit.sync import SyncBatch, SyncResultRead
from reten.kit.time import utcnow
from reten.kit.validators import join_name, merge_metadata
from reten.operators import service as operators
from reten.operators.models import Operator
from reten.routes.models import Route, RouteCommerce, RouteOperator, RouteOperatorRole
from reten.routes.schemas import (
    RouteCommerceCreate,
    RouteCreate,
    RouteDetailRead,
    RouteOperatorCreate,
    RouteOperatorDetailRead,
    RouteOperatorRead,
    RouteOperatorSummary,
    RouteSyncItem,
    RouteUpdate,
)

EXTERNAL_ID_TAKEN = "external_id already exists"
SORTS: dict[str, Any] = {"name": Route.name, "created_at": Route.created_at}
# Values per IN list: far below the bind-parameter limits of SQLite (32 766) and asyncpg (32 767).
IN_CHUNK = 5000

T = TypeVar("T")


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


async def get(session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID) -> Route:
    route = await TenantRepository(session, tenant_id).get(Route, route_id)
    if route is None:
        raise NotFound("Route not found")
    return route


async def create(session: AsyncSession, tenant_id: uuid.UUID, data: RouteCreate) -> RouteDetailRead:
    route = TenantRepository(session, tenant_id).add(
        Route(
            id=uuid.uuid4(),
            name=data.name,
            external_id=data.external_id,
            description=data.description,
            is_active=data.is_active,
            metadata_=merge_metadata({}, data.metadata),
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if data.external_id is None:
            raise
        raise Conflict(EXTERNAL_ID_TAKEN) from None  # the only unique key a route has
    return RouteDetailRead.of_detail(route, [], 0)


@dataclass(frozen=True)
class RouteFilters:
    search: str | None = None
    external_id: str | None = None
    is_active: bool | None = None
    operator_id: uuid.UUID | None = None
    commerce_id: uuid.UUID | None = None


async def list_routes(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: RouteFilters,
    sort: str | None,
    params: PageParams,
) -> tuple[list[Route], int, bool]:
    """One page of routes, the total and whether the total is an estimate."""
    order_by = parse_sort(sort, SORTS, "name", Route.id)
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Route)
    if filters.search is not None:
        stmt = stmt.where(search_clause(filters.search, [Route.name, Route.external_id]))
    if filters.external_id is not None:
        stmt = stmt.where(Route.external_id == filters.external_id)
    if filters.is_active is not None:
        stmt = stmt.where(Route.is_active.is_(filters.is_active))
    if filters.operator_id is not None:
        linked = (
            repo.select(RouteOperator)
            .with_only_columns(RouteOperator.route_id)
            .where(
                RouteOperator.operator_id == filters.operator_id,
                RouteOperator.is_active.is_(True),
            )
        )
        stmt = stmt.where(Route.id.in_(linked))
    if filters.commerce_id is not None:
        assigned = (
            repo.select(RouteCommerce)
            .with_only_columns(RouteCommerce.route_id)
            .where(RouteCommerce.commerce_id == filters.commerce_id)
        )
        stmt = stmt.where(Route.id.in_(assigned))
    return await paginate(session, stmt, order_by, params)


async def _detail_of(session: AsyncSession, tenant_id: uuid.UUID, route: Route) -> RouteDetailRead:
    """The route with its operator links (LEAD first, then by name) and its commerce count."""
    repo = TenantRepository(session, tenant_id)
    links = (
        repo.select(RouteOperator)
        .add_columns(Operator)
        .join(Operator, Operator.id == RouteOperator.operator_id)
        .where(RouteOperator.route_id == route.id)
        .order_by(
            case((RouteOperator.role == RouteOperatorRole.LEAD.value, 0), else_=1),
            Operator.first_name.asc().nulls_first(),
            Operator.last_name.asc().nulls_first(),
            Operator.id,
        )
    )
    operator_links = [
        RouteOperatorDetailRead(
            **RouteOperatorRead.of(link).model_dump(by_alias=False),
            operator=RouteOperatorSummary(
                id=op.id,
                name=join_name(op.first_name, op.last_name),
                external_id=op.external_id,
                type=op.type,
                is_active=op.is_active,
            ),
        )
        for link, op in (await session.execute(links)).all()
    ]
    commerce_count = await repo.count(RouteCommerce, RouteCommerce.route_id == route.id)
    return RouteDetailRead.of_detail(route, operator_links, commerce_count)


async def detail(
    session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID
) -> RouteDetailRead:
    return await _detail_of(session, tenant_id, await get(session, tenant_id, route_id))


async def update_route(
    session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID, data: RouteUpdate
) -> RouteDetailRead:
    route = await get(session, tenant_id, route_id)
    given = data.model_fields_set
    if data.name is not None:
        route.name = data.name
    if "external_id" in given:
        route.external_id = data.external_id
    if "description" in given:
        route.description = data.description
    if data.is_active is not None:
        route.is_active = data.is_active
    if data.metadata is not None:
        route.metadata_ = merge_metadata(route.metadata_, data.metadata)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if data.external_id is None:
            raise
        raise Conflict(EXTERNAL_ID_TAKEN) from None
    return await _detail_of(session, tenant_id, route)


async def deactivate(session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID) -> None:
    """DELETE keeps the row and its links; calling it again changes nothing."""
    route = await get(session, tenant_id, route_id)
    if route.is_active:
        route.is_active = False
        await session.commit()


# --- Operator and commerce links -------------------------------------------------------------


async def link_operator(
    session: AsyncSession, tenant_id: uuid.UUID, route: Route, data: RouteOperatorCreate
) -> RouteOperator:
    """Create the link, or reactivate an existing one (its role changes only when given)."""
    operator_id = (await operators.get(session, tenant_id, data.operator_id)).id
    route_id = route.id  # read once: a rollback below expires the loaded objects
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(RouteOperator).where(
        RouteOperator.route_id == route_id, RouteOperator.operator_id == operator_id
    )
    for attempt in (1, 2):
        link = (await session.execute(stmt)).scalar_one_or_none()
        if link is None:
            role = data.role or RouteOperatorRole.MEMBER
            link = repo.add(
                RouteOperator(
                    id=uuid.uuid4(),
                    route_id=route_id,
                    operator_id=operator_id,
                    role=role.value,
                    is_active=True,
                )
            )
        else:
            link.is_active = True
            if data.role is not None:
                link.role = data.role.value
        try:
            await session.commit()
            return link
        except IntegrityError:  # a concurrent request created the link first: update that one
            await session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def unlink_operator(
    session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID, operator_id: uuid.UUID
) -> None:
    route = await get(session, tenant_id, route_id)
    stmt = (
        TenantRepository(session, tenant_id)
        .select(RouteOperator)
        .where(RouteOperator.route_id == route.id, RouteOperator.operator_id == operator_id)
    )
    await _delete_link(session, stmt, "Operator is not assigned to this route")


async def link_commerce(
    session: AsyncSession, tenant_id: uuid.UUID, route: Route, data: RouteCommerceCreate
) -> RouteCommerce:
    """Create the link; an existing one is returned as it is."""
    repo = TenantRepository(session, tenant_id)
    if await repo.get(Commerce, data.commerce_id) is None:
        raise NotFound("Commerce not found")
    stmt = repo.select(RouteCommerce).where(
        RouteCommerce.route_id == route.id, RouteCommerce.commerce_id == data.commerce_id
    )
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is not None:
        return link
    link = repo.add(RouteCommerce(id=uuid.uuid4(), route_id=route.id, commerce_id=data.commerce_id))
    try:
        await session.commit()
        return link
    except IntegrityError:  # a concurrent request created it first: answer with that one
        await session.rollback()
    return (await session.execute(stmt)).scalar_one()


async def link_commerce_by_external_id(
    session: AsyncSession, tenant_id: uuid.UUID, route: Route, external_id: str
) -> RouteCommerce:
    """`link_commerce` for a commerce named by its external id: the id people know and type (the
    admin panel's assign form). An unknown id is a 400 on `commerce_external_id`."""
    commerce = await commerces.get_by_external_id(session, tenant_id, external_id.strip())
    if commerce is None:
        raise ValidationFailed.one("commerce_external_id", "no commerce has this external id")
    return await link_commerce(
        session, tenant_id, route, RouteCommerceCreate(commerce_id=commerce.id)
    )


async def unlink_commerce(
    session: AsyncSession, tenant_id: uuid.UUID, route_id: uuid.UUID, commerce_id: uuid.UUID
) -> None:
    route = await get(session, tenant_id, route_id)
    stmt = (
        TenantRepository(session, tenant_id)
        .select(RouteCommerce)
        .where(RouteCommerce.route_id == route.id, RouteCommerce.commerce_id == commerce_id)
    )
    await _delete_link(session, stmt, "Commerce is not assigned to this route")


async def _delete_link(session: AsyncSession, stmt: Any, missing: str) -> None:
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is None:
        raise NotFound(missing)
    await session.delete(link)
    await session.commit()


# --- Sync ------------------------------------------------------------------------------------


def _chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def sync(
    session: AsyncSession, tenant_id: uuid.UUID, batch: SyncBatch[RouteSyncItem]
) -> SyncResultRead:
    """Rule S: validate the whole batch, then write it with a fixed number of statements.

    A concurrent writer can still insert one of our routes or links between the check and the
    insert; the unique index refuses ours, and one more pass sees that row and updates it.
    """
    for attempt in (1, 2):
        try:
            return await _sync_once(session, tenant_id, batch)
        except IntegrityError:
            await session.rollback()
            if attempt == 2:
                raise Conflict(EXTERNAL_ID_TAKEN) from None
    raise AssertionError("unreachable")


def _check_batch(batch: SyncBatch[RouteSyncItem]) -> None:
    """Problems visible without storage: repeated keys in the batch or inside one item."""
    first_of_key: dict[str, int] = {}
    for index, item in batch.valid():
        if item.external_id in first_of_key:
            first = batch.path(first_of_key[item.external_id])
            batch.add(index, ("external_id",), f"same external_id as {first}")
        else:
            first_of_key[item.external_id] = index
        seen_operators: dict[tuple[str, str], int] = {}
        for k, ref in enumerate(item.operators or []):
            key = (ref.type.value, ref.external_id)
            if key in seen_operators:
                first = batch.path(index, ("operators", seen_operators[key]))
                batch.add(index, ("operators", k), f"same operator as {first}")
            else:
                seen_operators[key] = k
        seen_commerces: dict[str, int] = {}
        for k, ext in enumerate(item.commerce_external_ids or []):
            if ext in seen_commerces:
                first = batch.path(index, ("commerce_external_ids", seen_commerces[ext]))
                batch.add(index, ("commerce_external_ids", k), f"same commerce as {first}")
            else:
                seen_commerces[ext] = k


async def _operator_ids(
    session: AsyncSession, repo: TenantRepository, items: list[tuple[int, RouteSyncItem]]
) -> dict[tuple[str, str | None], uuid.UUID]:
    """(type, external_id) -> id of every operator the batch names, one IN query per chunk."""
    found: dict[tuple[str, str | None], uuid.UUID] = {}
    wanted = {ref.external_id for _, item in items for ref in item.operators or []}
    for chunk in _chunks(wanted):
        stmt = (
            repo.select(Operator)
            .with_only_columns(Operator.id, Operator.type, Operator.external_id)
            .where(Operator.external_id.in_(chunk))
        )
        found.update(((r.type, r.external_id), r.id) for r in await session.execute(stmt))
    return found


async def _commerce_ids(
    session: AsyncSession, repo: TenantRepository, items: list[tuple[int, RouteSyncItem]]
) -> dict[str, uuid.UUID]:
    """external_id -> id of every commerce the batch names, one IN query per chunk."""
    found: dict[str, uuid.UUID] = {}
    wanted = {ext for _, item in items for ext in item.commerce_external_ids or []}
    for chunk in _chunks(wanted):
        stmt = (
            repo.select(Commerce)
            .with_only_columns(Commerce.id, Commerce.external_id)
            .where(Commerce.external_id.in_(chunk))
        )
        found.update((r.external_id, r.id) for r in await session.execute(stmt))
    return found


def _check_references(
    batch: SyncBatch[RouteSyncItem],
    operator_ids: dict[tuple[str, str | None], uuid.UUID],
    commerce_ids: dict[str, uuid.UUID],
) -> None:
    for index, item in batch.valid():
        for k, ref in enumerate(item.operators or []):
            if (ref.type.value, ref.external_id) not in operator_ids:
                batch.add(
                    index,
                    ("operators", k, "external_id"),
                    f"no {ref.type.value} operator has this external_id",
                )
        for k, ext in enumerate(item.commerce_external_ids or []):
            if ext not in commerce_ids:
                batch.add(index, ("commerce_external_ids", k), "no commerce has this external_id")


@dataclass
class _Writes:
    """Rows a sync inserts or updates, per table; each list becomes one executemany."""

    routes: list[dict[str, Any]] = field(default_factory=list)
    route_updates: list[dict[str, Any]] = field(default_factory=list)
    operator_links: list[dict[str, Any]] = field(default_factory=list)
    operator_link_updates: list[dict[str, Any]] = field(default_factory=list)
    commerce_links: list[dict[str, Any]] = field(default_factory=list)

    async def execute(self, session: AsyncSession) -> None:
        # Routes first: the links point at them.
        for model, rows, statement in (
            (Route, self.routes, insert),
            (Route, self.route_updates, update),
            (RouteOperator, self.operator_links, insert),
            (RouteOperator, self.operator_link_updates, update),
            (RouteCommerce, self.commerce_links, insert),
        ):
            if rows:
                await session.execute(statement(model), rows)


def _plan_routes(
    tenant_id: uuid.UUID,
    items: list[tuple[int, RouteSyncItem]],
    existing: dict[str | None, Route],
    writes: _Writes,
    now: datetime,
) -> dict[int, uuid.UUID]:
    """Insert or update each item's route; returns the route id of each item."""
    route_of_item: dict[int, uuid.UUID] = {}
    for index, item in items:
        stored = existing.get(item.external_id)
        if stored is None:
            route_of_item[index] = uuid.uuid4()
            writes.routes.append(
                {
                    "id": route_of_item[index],
                    "tenant_id": tenant_id,
                    "name": item.name,
                    "external_id": item.external_id,
                    "description": item.description,
                    "metadata_": merge_metadata({}, item.metadata or {}),
                    "is_active": item.is_active if item.is_active is not None else True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        route_of_item[index] = stored.id
        values = {
            "name": item.name,
            "description": (
                item.description if "description" in item.model_fields_set else stored.description
            ),
            "metadata_": (
                merge_metadata(stored.metadata_, item.metadata)
                if item.metadata is not None
                else stored.metadata_
            ),
            "is_active": item.is_active if item.is_active is not None else stored.is_active,
        }
        # An unchanged route is counted as updated but not written (its updatedAt stays put).
        if operators.changed(stored, values):
            writes.route_updates.append({"id": stored.id, **values, "updated_at": now})
    return route_of_item


async def _stored_links(
    session: AsyncSession,
    repo: TenantRepository,
    route_ids: list[uuid.UUID],
    operator_ids: set[uuid.UUID],
    commerce_ids: set[uuid.UUID],
) -> tuple[dict[tuple[uuid.UUID, uuid.UUID], RouteOperator], set[tuple[uuid.UUID, uuid.UUID]]]:
    """The existing links between the given routes and the operators/commerces the batch names."""
    operator_links: dict[tuple[uuid.UUID, uuid.UUID], RouteOperator] = {}
    commerce_links: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if not route_ids:
        return operator_links, commerce_links
    for chunk in _chunks(operator_ids):
        stmt_ops = repo.select(RouteOperator).where(
            RouteOperator.route_id.in_(route_ids), RouteOperator.operator_id.in_(chunk)
        )
        operator_links.update(
            ((link.route_id, link.operator_id), link)
            for link in (await session.execute(stmt_ops)).scalars()
        )
    for chunk in _chunks(commerce_ids):
        stmt_com = (
            repo.select(RouteCommerce)
            .with_only_columns(RouteCommerce.route_id, RouteCommerce.commerce_id)
            .where(RouteCommerce.route_id.in_(route_ids), RouteCommerce.commerce_id.in_(chunk))
        )
        commerce_links.update((r.route_id, r.commerce_id) for r in await session.execute(stmt_com))
    return operator_links, commerce_links


async def _sync_once(
    session: AsyncSession, tenant_id: uuid.UUID, batch: SyncBatch[RouteSyncItem]
) -> SyncResultRead:
    repo = TenantRepository(session, tenant_id)
    items = list(batch.valid())
    _check_batch(batch)
    operator_ids = await _operator_ids(session, repo, items)
    commerce_ids = await _commerce_ids(session, repo, items)
    _check_references(batch, operator_ids, commerce_ids)
    batch.reject_if_invalid()

    stmt = repo.select(Route).where(Route.external_id.in_({item.external_id for _, item in items}))
    existing = {route.external_id: route for route in (await session.execute(stmt)).scalars()}
    now = utcnow()
    writes = _Writes()
    route_of_item = _plan_routes(tenant_id, items, existing, writes, now)

    # Links that already exist can only belong to routes that already exist.
    operator_links, commerce_links = await _stored_links(
        session,
        repo,
        [route.id for route in existing.values()],
        {operator_ids[(r.type.value, r.external_id)] for _, i in items for r in i.operators or []},
        {commerce_ids[ext] for _, i in items for ext in i.commerce_external_ids or []},
    )
    for index, item in items:
        route_id = route_of_item[index]
        for ref in item.operators or []:
            operator_id = operator_ids[(ref.type.value, ref.external_id)]
            current = operator_links.get((route_id, operator_id))
            if current is None:
                writes.operator_links.append(
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": tenant_id,
                        "route_id": route_id,
                        "operator_id": operator_id,
                        "role": (ref.role or RouteOperatorRole.MEMBER).value,
                        "is_active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                continue
            role = ref.role.value if ref.role is not None else current.role
            if not current.is_active or role != current.role:
                writes.operator_link_updates.append(
                    {"id": current.id, "role": role, "is_active": True, "updated_at": now}
                )
        for ext in item.commerce_external_ids or []:
            if (route_id, commerce_ids[ext]) not in commerce_links:
                writes.commerce_links.append(
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": tenant_id,
                        "route_id": route_id,
                        "commerce_id": commerce_ids[ext],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    await writes.execute(session)
    await session.commit()
    return SyncResultRead(created=len(writes.routes), updated=len(existing), total=len(batch.items))
