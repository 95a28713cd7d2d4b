"""GET /api/integration/task-result-type-configs."""

from __future__ import annotations

import httpx

from reten.activity_config import service as activity_config
from reten.activity_config.schemas import TaskResultTypeCreate, TaskResultTypeUpdate
from reten.kit.actor import Actor
from reten.kit.db import Database
from tests.factories import Factory

PATH = "/api/integration/task-result-type-configs"


class TestResultTypeConfigs:
    async def test_lists_active_types_by_sort_order_then_code(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        async with db.sessionmaker() as session:
            await activity_config.create_type(
                session,
                world.tenant_id,
                TaskResultTypeCreate(code="AAA_FIRST", label="Primero", sort_order=10),
                actor=Actor.system(),
            )
            hidden = await activity_config.create_type(
                session,
                world.tenant_id,
                TaskResultTypeCreate(code="OLD", label="Viejo", sort_order=0),
                actor=Actor.system(),
            )
            await activity_config.update_type(
                session,
                world.tenant_id,
                hidden.id,
                TaskResultTypeUpdate(is_active=False),
                actor=Actor.system(),
            )
        key = await factory.api_key(world)
        response = await client.get(PATH, headers={"x-api-key": key})
        assert response.status_code == 200
        assert response.json() == [
            {"code": "AAA_FIRST", "label": "Primero", "requiresFutureScheduledAt": False},
            {
                "code": "SALE_COMPLETED",
                "label": "Venta completada",
                "requiresFutureScheduledAt": False,
            },
            {
                "code": "NOT_INTERESTED",
                "label": "No interesado",
                "requiresFutureScheduledAt": False,
            },
            {
                "code": "RESCHEDULE",
                "label": "Reprogramar visita",
                "requiresFutureScheduledAt": True,
            },
            {"code": "NO_CONTACT", "label": "Sin contacto", "requiresFutureScheduledAt": False},
        ]

    async def test_tenant_without_types_gets_an_empty_array(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        async with db.sessionmaker() as session:
            for item in await activity_config.list_types(session, world.tenant_id):
                await activity_config.delete_type(
                    session, world.tenant_id, item.id, actor=Actor.system()
                )
        key = await factory.api_key(world)
        response = await client.get(PATH, headers={"x-api-key": key})
        assert response.status_code == 200 and response.json() == []

    async def test_only_the_keys_tenant_types_are_listed(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        mine, other = await factory.world(), await factory.world()
        async with db.sessionmaker() as session:
            await activity_config.create_type(
                session,
                other.tenant_id,
                TaskResultTypeCreate(code="OTHER_ONLY", label="x"),
                actor=Actor.system(),
            )
        key = await factory.api_key(mine)
        codes = [t["code"] for t in (await client.get(PATH, headers={"x-api-key": key})).json()]
        assert "OTHER_ONLY" not in codes and len(codes) == 4

    async def test_etag_and_if_none_match_give_304(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        first = await client.get(PATH, headers={"x-api-key": key})
        etag = first.headers["ETag"]
        again = await client.get(PATH, headers={"x-api-key": key, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        async with db.sessionmaker() as session:
            await activity_config.create_type(
                session,
                world.tenant_id,
                TaskResultTypeCreate(code="NEW_ONE", label="n"),
                actor=Actor.system(),
            )
        changed = await client.get(PATH, headers={"x-api-key": key, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
