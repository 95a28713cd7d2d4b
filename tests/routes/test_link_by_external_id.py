"""`link_commerce_by_external_id`: the admin panel names a commerce by its external id."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reten.kit.db import Database
from reten.kit.errors import ValidationFailed
from reten.routes import service as routes
from reten.routes.models import RouteCommerce
from tests.factories import Factory


async def _links(db: Database, route_id: object) -> list[object]:
    async with db.sessionmaker() as session:
        stmt = select(RouteCommerce.commerce_id).where(RouteCommerce.route_id == route_id)
        return list((await session.execute(stmt)).scalars())


async def test_links_the_tenants_commerce_once(factory: Factory, db: Database) -> None:
    mine, theirs = await factory.world(), await factory.world()
    async with db.sessionmaker() as session:
        route = await routes.get(session, mine.tenant_id, mine.route_id)
        first = await routes.link_commerce_by_external_id(
            session, mine.tenant_id, route, " COM-002 "
        )
        again = await routes.link_commerce_by_external_id(session, mine.tenant_id, route, "COM-002")
    # Both tenants have a COM-002; only mine is linked, and a second call changes nothing.
    assert first.commerce_id == mine.commerce_ids[1] and again.id == first.id
    assert await _links(db, mine.route_id) == [mine.commerce_ids[1]]
    assert await _links(db, theirs.route_id) == []


async def test_an_unknown_external_id_is_a_400_on_its_field(factory: Factory, db: Database) -> None:
    world = await factory.world()
    async with db.sessionmaker() as session:
        route = await routes.get(session, world.tenant_id, world.route_id)
        with pytest.raises(ValidationFailed) as raised:
            await routes.link_commerce_by_external_id(session, world.tenant_id, route, "NOPE")
    assert raised.value.details == [
        {"field": "commerce_external_id", "message": "no commerce has this external id"}
    ]
    assert await _links(db, world.route_id) == []
