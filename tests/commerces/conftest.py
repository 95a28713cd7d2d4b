"""Fixtures of the commerce tests: an administrator of a fresh tenant, ready to call the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import Factory, World


@dataclass
class Caller:
    """A tenant's ADMIN (JWT + x-tenant-id) and a client to call the commerce API with."""

    client: httpx.AsyncClient
    world: World
    headers: dict[str, str]

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)

    async def create(self, **body: Any) -> dict[str, Any]:
        """POST /api/commerces, asserting 201."""
        body.setdefault("name", "Almacén Central")
        response = await self.post("/api/commerces", body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


async def make_caller(client: httpx.AsyncClient, factory: Factory) -> Caller:
    world = await factory.world(commerces_count=0)
    token = await factory.login(world.admin_email)
    headers = {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}
    return Caller(client, world, headers)


@pytest.fixture
async def admin(client: httpx.AsyncClient, factory: Factory) -> Caller:
    return await make_caller(client, factory)
