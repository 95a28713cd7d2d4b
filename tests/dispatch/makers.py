"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py), and the
helpers the dispatch config tests share: a caller, provider ids, configs made through the API
and attempt rows written straight to the table (the engine that writes them is tested on its
own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from reten.dispatch.models import DispatchAttempt, DispatchProvider
from reten.kit.db import Database
from reten.kit.time import utcnow
from tests.factories import Factory, Maker, World

CONFIGS = "/api/dispatch-configs"
YOM_URL = "https://yom.example.com/api"
HOOK_URL = "https://hooks.example.com/reten"


async def provider_id(db: Database, code: str) -> uuid.UUID:
    async with db.sessionmaker() as session:
        found = await session.execute(
            select(DispatchProvider.id).where(DispatchProvider.code == code)
        )
        return found.scalar_one()


async def config_body(db: Database, code: str, **fields: Any) -> dict[str, Any]:
    """A valid 14.7 body for provider `code` on SALESMAN; `fields` override or add."""
    body: dict[str, Any] = {
        "dispatch_provider_id": str(await provider_id(db, code)),
        "channel": "SALESMAN",
    }
    if code == "YOM":
        body.update(base_url=YOM_URL, credentials={"apiKey": "yom-key-0123456789"})
    elif code == "WEBHOOK":
        body.update(base_url=HOOK_URL)
    body.update(fields)
    return body


@dataclass
class Caller:
    """A tenant member's JWT headers, with the database of the app they call."""

    client: httpx.AsyncClient
    db: Database
    world: World
    headers: dict[str, str]

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, params=params or None)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)

    async def send(self, method: str, path: str, content: bytes) -> httpx.Response:
        headers = {**self.headers, "content-type": "application/json"}
        return await self.client.request(method, path, content=content, headers=headers)


async def admin(factory: Factory) -> Caller:
    """The ADMIN of a fresh tenant."""
    world = await factory.world(commerces_count=1)
    return Caller(factory.client, factory.db, world, await _admin_headers(factory, world))


async def member(factory: Factory, world: World, role: str) -> Caller:
    _, email = await factory.user(world, [role])
    token = await factory.login(email)
    headers = {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}
    return Caller(factory.client, factory.db, world, headers)


async def create_config(caller: Caller, code: str, **fields: Any) -> dict[str, Any]:
    response = await caller.post(CONFIGS, await config_body(caller.db, code, **fields))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_attempt(
    db: Database,
    world: World,
    activity_id: uuid.UUID,
    config_id: uuid.UUID | str,
    *,
    number: int = 1,
    at: datetime | None = None,
    outcome: str = "SUCCESS",
    trigger: str = "SCHEDULED",
    http_status: int | None = 200,
    error: str | None = None,
    excerpt: str | None = "ok",
    request_id: str | None = "msg_test",
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        attempt = DispatchAttempt(
            id=uuid.uuid4(),
            tenant_id=world.tenant_id,
            activity_id=activity_id,
            dispatch_config_id=uuid.UUID(str(config_id)),
            attempt_number=number,
            trigger=trigger,
            outcome=outcome,
            http_status=http_status,
            duration_ms=40 + number,
            error=error,
            response_excerpt=excerpt,
            request_id=request_id,
            created_at=at or utcnow() - timedelta(minutes=10) + timedelta(seconds=number),
        )
        session.add(attempt)
        await session.commit()
        return attempt.id


async def _admin_headers(factory: Factory, world: World) -> dict[str, str]:
    token = await factory.login(world.admin_email)
    return {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}


async def _webhook_config(factory: Factory, world: World) -> str:
    response = await factory.client.post(
        CONFIGS,
        json=await config_body(factory.db, "WEBHOOK"),
        headers=await _admin_headers(factory, world),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _config(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": await _webhook_config(factory, world), "_body": {"base_url": HOOK_URL + "/v2"}}


async def _config_with_attempt(factory: Factory, world: World) -> dict[str, Any]:
    config_id = await _webhook_config(factory, world)
    await add_attempt(factory.db, world, await factory.task(world), config_id)
    return {"id": config_id}


async def _activity_with_attempt(factory: Factory, world: World) -> dict[str, Any]:
    activity_id = await factory.task(world)
    await add_attempt(factory.db, world, activity_id, await _webhook_config(factory, world))
    return {"id": str(activity_id)}


async def _task(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": str(await factory.task(world))}


async def _no_object(factory: Factory, world: World) -> dict[str, Any]:
    # Providers are global, not a tenant's: every tenant sees the same ones. What is left to
    # check on this route is that an id naming no provider is a 404.
    return {}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/dispatch-providers/{id}/channel-definitions": _no_object,
    "/api/dispatch-configs/{id}": _config,
    "/api/dispatch-configs/{id}/activate": _config,
    "/api/dispatch-configs/{id}/deactivate": _config,
    "/api/dispatch-configs/{id}/rotate-secret": _config,
    "/api/dispatch-configs/{id}/attempts": _config_with_attempt,
    "/api/activities/{id}/attempts": _activity_with_attempt,
    "/api/dispatch-configs/{id}/test": _config,
    "/api/activities/tasks/{id}/dispatch": _task,
    "/api/activities/{id}/retry-dispatch": _task,
    "/api/activities/{id}/resend": _task,
}
