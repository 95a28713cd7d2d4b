from __future__ import annotations

import httpx


class TestHealth:
    async def test_health_is_constant_json(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_ready_checks_the_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/ready")
        assert response.status_code == 200
        assert response.json()["database"] == "ok"
