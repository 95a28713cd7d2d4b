"""Shared helpers for dispatch tests: a tenant with an API key, configs made through the API,
and a dispatcher driven round by round."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from reten.activities.models import Activity
from reten.auth.permissions import Permission
from reten.dispatch.dispatcher import Dispatcher
from reten.dispatch.models import DispatchAttempt, DispatchConfig
from reten.kit.db import Database
from tests.factories import Factory, World

ALL = [
    Permission.VIEW_ACTIVITIES,
    Permission.CREATE_ACTIVITY,
    Permission.DISPATCH_ACTIVITY,
    Permission.MANAGE_ACTIVITY_CONFIG,
    Permission.CANCEL_ACTIVITY,
    Permission.SUBMIT_ACTIVITY_RESULT,
]


@dataclass
class Tenant:
    world: World
    headers: dict[str, str]


async def tenant(factory: Factory) -> Tenant:
    world = await factory.world()
    key = await factory.api_key(world, ALL)
    return Tenant(world, {"x-api-key": key})


async def provider_id(client: httpx.AsyncClient, t: Tenant, code: str) -> str:
    response = await client.get("/api/dispatch-providers", headers=t.headers)
    assert response.status_code == 200, response.text
    return next(p["id"] for p in response.json() if p["code"] == code)


async def make_config(
    client: httpx.AsyncClient,
    t: Tenant,
    *,
    provider: str = "WEBHOOK",
    channel: str = "SALESMAN",
    base_url: str | None = None,
    credentials: dict[str, str] | None = None,
    is_active: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dispatch_provider_id": await provider_id(client, t, provider),
        "channel": channel,
        "base_url": base_url,
        "settings": {"retry_schedule": [0, 0, 0], "timeout_seconds": 2, **settings},
        "is_active": is_active,
    }
    if credentials is not None:
        body["credentials"] = credentials
    response = await client.post("/api/dispatch-configs", json=body, headers=t.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def setup(
    factory: Factory, client: httpx.AsyncClient, receiver: Any, **config: Any
) -> tuple[Tenant, dict[str, Any]]:
    """A fresh tenant with a config (WEBHOOK unless `provider=` says otherwise) to `receiver`."""
    t = await tenant(factory)
    cfg = await make_config(client, t, base_url=receiver.url(), **config)
    return t, cfg


async def detail(client: httpx.AsyncClient, t: Tenant, activity_id: uuid.UUID) -> dict[str, Any]:
    response = await client.get(f"/api/activities/{activity_id}", headers=t.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def attempts(db: Database, activity_id: uuid.UUID) -> list[DispatchAttempt]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(DispatchAttempt)
            .where(DispatchAttempt.activity_id == activity_id)
            .order_by(DispatchAttempt.attempt_number)
        )
        return list(rows.scalars())


async def activity(db: Database, activity_id: uuid.UUID) -> Activity:
    async with db.sessionmaker() as session:
        found = await session.get(Activity, activity_id)
        assert found is not None
        return found


async def config_row(db: Database, config_id: str) -> DispatchConfig:
    async with db.sessionmaker() as session:
        found = await session.get(DispatchConfig, uuid.UUID(config_id))
        assert found is not None
        return found


def dispatcher(app: Any, *tenants: Tenant, **overrides: Any) -> Dispatcher:
    """A dispatcher of the app's process that serves only `tenants`: tests share a database,
    and one test's deliveries must not wait on another's misbehaving receiver."""
    runtime = app.state.runtime
    settings = runtime.settings.model_copy(update=overrides)
    return Dispatcher(
        runtime.db,
        settings,
        runtime.secretbox,
        app.state.dispatch.sender,
        tenant_ids=frozenset(t.world.tenant_id for t in tenants),
    )
