"""Every endpoint declares its response; lists share one page envelope; and the declared models
of the dict-rendered responses (activities, results) hold exactly what the API sends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from reten.activities.schemas import (
    ActivityDetailRead,
    ActivityPage,
    ActivityResultPage,
    ActivityResultRead,
    BatchCreatedRead,
)
from reten.auth.permissions import Permission
from reten.kit.time import utcnow
from tests.factories import Factory


def _openapi() -> dict[str, Any]:
    from reten.app import create_app
    from reten.config import Settings

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return app.openapi()


def _same(model: type[BaseModel], body: Any) -> None:
    """The body read through the model and written back is the body: no field is missing from
    the model, none is extra, none changes type."""
    read = model.model_validate(body)
    assert read.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


class TestOpenApi:
    def test_every_endpoint_declares_its_response(self) -> None:
        undeclared = []
        for path, operations in _openapi()["paths"].items():
            for method, operation in operations.items():
                answers = operation["responses"]
                declared = any(
                    code.startswith("2")
                    and "schema" in answer.get("content", {}).get("application/json", {})
                    for code, answer in answers.items()
                )
                if not declared and "204" not in answers:
                    undeclared.append((method, path))
        assert undeclared == []

    def test_every_page_is_one_envelope_with_one_meta(self) -> None:
        schemas = _openapi()["components"]["schemas"]
        assert [name for name in schemas if "PageMeta" in name] == ["PageMeta"]
        pages = {name: s for name, s in schemas.items() if name.endswith("Page")}
        assert len(pages) >= 8
        for name, schema in pages.items():
            assert set(schema["properties"]) == {"data", "meta"}, name
            assert schema["properties"]["meta"] == {"$ref": "#/components/schemas/PageMeta"}
            assert schema["properties"]["data"]["type"] == "array"


class TestDeclaredShapesMatchTheWire:
    async def test_activities_and_results(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = {
            "x-api-key": await factory.api_key(
                world, [Permission.CREATE_ACTIVITY, Permission.VIEW_ACTIVITIES]
            )
        }
        occurred = (utcnow() - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        created = await client.post(
            "/api/activity-results/tasks",
            headers=headers,
            json={
                "activity_id": str(activity_id),
                "commerce_external_id": "COM-001",
                "occurred_at": occurred,
                "status": "TRANSFERRED",
                "raw_payload": {"CamelKey": 1},
                "task_result": {"result": "SALE_COMPLETED", "operator_external_id": "OP-17"},
            },
        )
        assert created.status_code == 201, created.text
        _same(ActivityResultRead, created.json())

        detail = await client.get(f"/api/activities/{activity_id}", headers=headers)
        assert detail.status_code == 200 and detail.json()["results"]
        assert detail.json()["statusEvents"]
        _same(ActivityDetailRead, detail.json())

        listed = await client.get("/api/activities", headers=headers)
        assert listed.status_code == 200 and listed.json()["data"]
        _same(ActivityPage, listed.json())

        results = await client.get("/api/activity-results", headers=headers)
        assert results.status_code == 200 and results.json()["data"]
        _same(ActivityResultPage, results.json())

        one = await client.get(f"/api/activity-results/{created.json()['id']}", headers=headers)
        _same(ActivityResultRead, one.json())

    async def test_batch(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        headers = {"x-api-key": await factory.api_key(world, [Permission.CREATE_ACTIVITY])}
        response = await client.post(
            "/api/activities/batch", headers=headers, json={"items": [{"type": "TASK"}]}
        )
        assert response.status_code == 200, response.text
        assert response.json()["errors"] == 1
        _same(BatchCreatedRead, response.json())
