"""POST /api/activity-results/tasks (canonical and flat bodies), GET list and detail."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from reten.auth.permissions import Permission
from reten.kit.time import utcnow
from tests.factories import Factory, World

PATH = "/api/activity-results/tasks"


def stamp(delta: timedelta = timedelta(minutes=-5)) -> str:
    return (utcnow() + delta).isoformat().replace("+00:00", "Z")


async def key_of(factory: Factory, world: World) -> dict[str, str]:
    return {
        "x-api-key": await factory.api_key(
            world, [Permission.CREATE_ACTIVITY, Permission.VIEW_ACTIVITIES]
        )
    }


class TestCreateResult:
    async def test_canonical_body_in_the_management_vocabulary(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = await key_of(factory, world)
        body = {"activity_id": str(activity_id), "commerce_external_id": "COM-001", "occurred_at": stamp(),
                "status": "TRANSFERRED", "raw_payload": {"CamelKey": 1},
                "task_result": {"result": "SALE_COMPLETED", "operator_external_id": "OP-17", "contact_type": "INBOUND"}}  # fmt: skip
        response = await client.post(PATH, headers=headers, json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        assert (data["status"], data["activityStatus"], data["source"]) == (
            "TRANSFERRED",
            "COMPLETED",
            "RETEN_ACTIVITY",
        )
        assert data["commerceExternalId"] == "COM-001" and data["commerceId"] == str(
            world.commerce_ids[0]
        )
        assert data["taskResult"]["operatorId"] == str(world.operator_id)
        assert data["createdBy"]["type"] == "API_KEY" and data["rawPayload"] == {"CamelKey": 1}
        assert data["superseded"] is False and data["supersededBy"] is None

    async def test_canceled_result_cancels_the_activity(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = await key_of(factory, world)
        body = {"activity_id": str(activity_id), "commerce_external_id": "COM-001", "occurred_at": stamp(),
                "status": "CANCELED", "task_result": {"result": "NO_CONTACT"}}  # fmt: skip
        response = await client.post(PATH, headers=headers, json=body)
        assert response.status_code == 201 and response.json()["activityStatus"] == "CANCELED"

    async def test_flat_legacy_body(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = await key_of(factory, world)
        body = {"activityId": str(activity_id), "commerceExternalId": "COM-001", "occurredAt": stamp(),
                "status": "NOT_EXECUTED", "resultTypeCode": "NOT_INTERESTED", "comment": "cerrado",
                "contactDirection": "OUTBOUND", "operatorExternalId": "OP-17", "hardOverride": False}  # fmt: skip
        response = await client.post(PATH, headers=headers, json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        assert (
            data["activityStatus"] == "FAILED" and data["taskResult"]["result"] == "NOT_INTERESTED"
        )
        assert (data["taskResult"]["comment"], data["taskResult"]["contactType"]) == (
            "cerrado",
            "OUTBOUND",
        )

    async def test_flat_errors_name_the_flat_fields(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = await key_of(factory, world)
        body = {
            "activityId": str(activity_id),
            "commerceExternalId": "COM-001",
            "occurredAt": "yesterday",
            "status": "COMPLETED",
        }
        fields = {
            d["field"]
            for d in (await client.post(PATH, headers=headers, json=body)).json()["details"]
        }
        assert fields == {"occurredAt", "resultTypeCode"}
        wrong_code = dict(body, occurredAt=stamp(), resultTypeCode="NOPE")
        detail = (await client.post(PATH, headers=headers, json=wrong_code)).json()["details"][0]
        assert detail["field"] == "resultTypeCode"

    async def test_mixing_forms_is_400(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        headers = await key_of(factory, world)
        body = {"activity_id": str(uuid.uuid4()), "commerce_external_id": "COM-001", "occurred_at": stamp(),
                "status": "COMPLETED", "task_result": {"result": "SALE_COMPLETED"}, "comment": "also flat"}  # fmt: skip
        response = await client.post(PATH, headers=headers, json=body)
        assert (
            response.status_code == 400
            and response.json()["message"] == "Send either task_result or the flat fields"
        )

    async def test_idempotency_key_space_is_shared_with_the_integration_endpoint(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        key = await factory.api_key(
            world, [Permission.CREATE_ACTIVITY, Permission.SUBMIT_ACTIVITY_RESULT]
        )
        integration = {"activity_id": str(activity_id), "commerce_external_id": "COM-001", "occurred_at": stamp(),
                       "status": "EFFECTIVE", "task_result": {"result": "SALE_COMPLETED"}}  # fmt: skip
        first = await client.post(
            "/api/integration/activity-results/tasks",
            headers={"x-api-key": key, "Idempotency-Key": "k1"},
            json=integration,
        )
        assert first.status_code == 201
        other = dict(integration, status="COMPLETED")
        reused = await client.post(
            PATH, headers={"x-api-key": key, "Idempotency-Key": "k1"}, json=other
        )
        assert reused.status_code == 422

    async def test_viewer_key_cannot_submit(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
        response = await client.post(PATH, headers={"x-api-key": key}, json={})
        assert (
            response.status_code == 403
            and response.json()["message"] == "Insufficient permissions: requires CREATE_ACTIVITY"
        )


class TestListAndGetResults:
    async def test_filters(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        headers = await key_of(factory, world)
        a, b = await factory.task(world), await factory.task(world, commerce_index=1)
        made = {}
        for activity_id, commerce, status, code in ((a, "COM-001", "PENDING", "NO_CONTACT"), (a, "COM-001", "COMPLETED", "SALE_COMPLETED"),
                                                     (b, "COM-002", "NOT_EXECUTED", "NOT_INTERESTED")):  # fmt: skip
            body = {"activity_id": str(activity_id), "commerce_external_id": commerce, "occurred_at": stamp(),
                    "status": status, "task_result": {"result": code}}  # fmt: skip
            made[(activity_id, status)] = (
                await client.post(PATH, headers=headers, json=body)
            ).json()["id"]
        standalone = await client.post(PATH, headers=headers, json={"provider_activity_id": "X-1", "commerce_external_id": "COM-002",
                                       "occurred_at": stamp(timedelta(days=-3)), "status": "COMPLETED", "task_result": {"result": "SALE_COMPLETED"}})  # fmt: skip
        made["standalone"] = standalone.json()["id"]

        async def ids(**params: object) -> set[str]:
            response = await client.get("/api/activity-results", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return {r["id"] for r in response.json()["data"]}

        assert len(await ids()) == 4
        assert await ids(activity_id=str(b)) == {made[(b, "NOT_EXECUTED")]}
        assert await ids(commerce_external_id="COM-002") == {
            made[(b, "NOT_EXECUTED")],
            made["standalone"],
        }
        assert await ids(source="STANDALONE") == {made["standalone"]}
        assert await ids(status="PENDING,NOT_EXECUTED") == {
            made[(a, "PENDING")],
            made[(b, "NOT_EXECUTED")],
        }
        assert await ids(result="SALE_COMPLETED") == {made[(a, "COMPLETED")], made["standalone"]}
        assert await ids(occurred_to=stamp(timedelta(days=-1))) == {made["standalone"]}
        assert await ids(provider_activity_id="X-1") == {made["standalone"]}
        listed = (
            await client.get(
                "/api/activity-results", params={"sort": "occurred_at"}, headers=headers
            )
        ).json()["data"]
        assert listed[0]["id"] == made["standalone"]
        one = await client.get(f"/api/activity-results/{made['standalone']}", headers=headers)
        assert (
            one.status_code == 200
            and one.json()["source"] == "STANDALONE"
            and one.json()["activityId"] is None
        )

    async def test_superseded_results_are_hidden_unless_asked(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await key_of(factory, world)
        activity_id = await factory.task(world)
        body = {"activity_id": str(activity_id), "commerce_external_id": "COM-001", "occurred_at": stamp(),
                "status": "COMPLETED", "task_result": {"result": "SALE_COMPLETED"}}  # fmt: skip
        first = (await client.post(PATH, headers=headers, json=body)).json()["id"]
        second = (
            await client.post(
                PATH, headers=headers, json=dict(body, status="NOT_EXECUTED", hard_override=True)
            )
        ).json()["id"]
        visible = (await client.get("/api/activity-results", headers=headers)).json()["data"]
        assert [r["id"] for r in visible] == [second]
        everything = (
            await client.get(
                "/api/activity-results", params={"include_superseded": "true"}, headers=headers
            )
        ).json()["data"]
        old = next(r for r in everything if r["id"] == first)
        assert old["superseded"] is True and old["supersededBy"] == second

    @pytest.mark.parametrize(("params", "field"), [({"status": "EFFECTIVE"}, "status"), ({"source": "X"}, "source"),
                                                   ({"sort": "status"}, "sort"), ({"activity_id": "1"}, "activity_id")])  # fmt: skip
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, factory: Factory, params: dict[str, str], field: str
    ) -> None:
        world = await factory.world()
        response = await client.get(
            "/api/activity-results", params=params, headers=await key_of(factory, world)
        )
        assert response.status_code == 400 and response.json()["details"][0]["field"] == field

    async def test_unknown_result_is_404(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        response = await client.get(
            f"/api/activity-results/{uuid.uuid4()}", headers=await key_of(factory, world)
        )
        assert (
            response.status_code == 404
            and response.json()["message"] == "Activity result not found"
        )
