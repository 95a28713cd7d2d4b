"""GET /api/integration/activities/tasks: paging, filters, vocabulary, ETag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import update

from reten.activities import service as activities
from reten.activities.models import Activity, ActivityType, Channel
from reten.integration import service
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.pagination import PageParams
from reten.kit.time import utcnow
from tests.factories import Factory, World, result_body

PATH = "/api/integration/activities/tasks"
BASE = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


async def get(client: httpx.AsyncClient, key: str, **params: object) -> httpx.Response:
    return await client.get(PATH, params=params, headers={"x-api-key": key})


async def submit(
    client: httpx.AsyncClient, key: str, world: World, activity_id: uuid.UUID, **kw: object
) -> None:
    response = await client.post(
        "/api/integration/activity-results/tasks",
        headers={"x-api-key": key},
        json=result_body(world, activity_id, **kw),
    )
    assert response.status_code == 201, response.text


class TestPaging:
    async def test_meta_and_page_size(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        for i in range(7):
            await factory.task(world, scheduled_at=BASE + timedelta(hours=i))
        key = await factory.api_key(world)
        body = (await get(client, key, status="PENDING", per_page=5)).json()
        assert body["meta"] == {"page": 1, "limit": 5, "total": 7, "totalPages": 2}
        assert len(body["data"]) == 5
        second = (await get(client, key, per_page=5, page=2)).json()
        assert len(second["data"]) == 2 and second["meta"]["page"] == 2

    async def test_default_page_size_is_20_and_limit_is_an_alias(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        await factory.task(world)
        key = await factory.api_key(world)
        assert (await get(client, key)).json()["meta"]["limit"] == 20
        assert (await get(client, key, limit=3)).json()["meta"]["limit"] == 3
        assert (await get(client, key, limit=3, per_page=4)).json()["meta"]["limit"] == 4

    async def test_page_past_the_end_is_empty_with_the_real_total(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        for _ in range(3):
            await factory.task(world)
        key = await factory.api_key(world)
        body = (await get(client, key, page=9, per_page=2)).json()
        assert body["data"] == [] and body["meta"] == {
            "page": 9,
            "limit": 2,
            "total": 3,
            "totalPages": 2,
        }

    async def test_empty_tenant_has_zero_total_pages(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        body = (await get(client, key)).json()
        assert body == {"data": [], "meta": {"page": 1, "limit": 20, "total": 0, "totalPages": 0}}

    async def test_order_is_scheduled_at_then_id_and_stable_across_pages(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        ids = []
        for i in range(6):
            # Pairs share a scheduled time, so the id tie-break matters.
            ids.append(
                (
                    BASE + timedelta(hours=5 - i // 2),
                    await factory.task(world, scheduled_at=BASE + timedelta(hours=5 - i // 2)),
                )
            )
        key = await factory.api_key(world)
        expected = [str(i) for _, i in sorted(ids, key=lambda p: (p[0], str(p[1])))]
        seen = []
        for page in (1, 2, 3):
            seen += [
                item["id"]
                for item in (await get(client, key, per_page=2, page=page)).json()["data"]
            ]
        assert seen == expected

    @pytest.mark.parametrize(
        ("params", "field", "fragment"),
        [
            ({"per_page": 101}, "per_page", "between 1 and 100"),
            ({"per_page": 0}, "per_page", "between 1 and 100"),
            ({"limit": 500}, "limit", "between 1 and 100"),
            ({"per_page": "ten"}, "per_page", "integer"),
            ({"page": 0}, "page", ">= 1"),
            ({"page": "x"}, "page", "integer"),
            ({"status": "DONE"}, "status", "PENDING, IN_PROGRESS, COMPLETED, CANCELLED"),
            ({"status": "CANCELED"}, "status", "CANCELLED"),
            ({"status": "PENDING,NOPE"}, "status", "PENDING"),
            ({"result_status": "COMPLETED"}, "result_status", "EFFECTIVE, NOT_EFFECTIVE, PENDING"),
            ({"channel": "FAX"}, "channel", "SALESMAN, CALLCENTER, WHATSAPP, EMAIL, SMS, PUSH"),
            ({"scheduled_from": "yesterday"}, "scheduled_from", "ISO 8601"),
            ({"scheduled_to": "2030-01-01T10:00:00"}, "scheduled_to", "time zone"),
            ({"updated_since": "2030-13-01T00:00:00Z"}, "updated_since", "ISO 8601"),
        ],
    )
    async def test_bad_parameters_are_400_naming_them(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        params: dict[str, object],
        field: str,
        fragment: str,
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        response = await get(client, key, **params)
        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400 and body["error"] == "Bad Request"
        assert body["details"][0]["field"] == field
        assert fragment in body["details"][0]["message"] and fragment in body["message"]

    async def test_unknown_parameters_are_ignored(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        await factory.task(world)
        key = await factory.api_key(world)
        response = await get(client, key, colour="blue", sort="-nothing")
        assert response.status_code == 200 and response.json()["meta"]["total"] == 1


class TestFilters:
    async def test_status_and_result_status_follow_the_vocabulary(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        ready, done, failed, progress, canceled = [await factory.task(world) for _ in range(5)]
        key = await factory.api_key(world)
        await submit(client, key, world, done)
        await submit(
            client,
            key,
            world,
            failed,
            status="NOT_EFFECTIVE",
            task_result={"result": "NOT_INTERESTED"},
        )
        await submit(
            client, key, world, progress, status="PENDING", task_result={"result": "NO_CONTACT"}
        )
        async with db.sessionmaker() as session:
            await activities.cancel_activity(
                session, world.tenant_id, canceled, Actor.system(), "closed"
            )

        async def ids(**params: object) -> set[str]:
            return {i["id"] for i in (await get(client, key, **params)).json()["data"]}

        assert await ids(status="PENDING") == {str(ready)}
        assert await ids(status="IN_PROGRESS") == {str(progress)}
        assert await ids(status="COMPLETED") == {str(done), str(failed)}
        assert await ids(status="CANCELLED") == {str(canceled)}
        assert await ids(status="PENDING,CANCELLED") == {str(ready), str(canceled)}
        assert await ids(result_status="EFFECTIVE") == {str(done)}
        assert await ids(result_status="NOT_EFFECTIVE") == {str(failed)}
        assert await ids(result_status="PENDING") == {str(progress)}
        assert await ids(status="COMPLETED", result_status="EFFECTIVE") == {str(done)}

        items = {i["id"]: i for i in (await get(client, key)).json()["data"]}
        rows = {
            ready: ("PENDING", "SCHEDULED", "Programada", None, None),
            done: ("COMPLETED", "EFFECTIVE", "Efectiva", "EFFECTIVE", "SALE_COMPLETED"),
            failed: (
                "COMPLETED",
                "NOT_EFFECTIVE",
                "No efectiva",
                "NOT_EFFECTIVE",
                "NOT_INTERESTED",
            ),
            progress: ("IN_PROGRESS", "IN_PROGRESS", "En curso", "PENDING", "NO_CONTACT"),
            canceled: ("CANCELLED", "CANCELED", "Cancelada", None, None),
        }
        for activity_id, (status, lifecycle, label, result_status, code) in rows.items():
            item = items[str(activity_id)]
            assert (item["status"], item["lifecycleStatus"], item["lifecycleStatusLabel"]) == (
                status,
                lifecycle,
                label,
            )
            assert (item["resultStatus"], item["resultCode"]) == (result_status, code)
        assert items[str(canceled)]["lifecycleStatusDetail"] == "closed"
        assert (
            items[str(done)]["occurredAt"] is not None and items[str(ready)]["occurredAt"] is None
        )

    async def test_channel_commerce_operator_and_dates(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=2)
        a = await factory.task(
            world, commerce_index=0, scheduled_at=BASE, channel=Channel.CALLCENTER
        )
        b = await factory.task(world, commerce_index=1, scheduled_at=BASE + timedelta(days=2))
        key = await factory.api_key(world)

        async def ids(**params: object) -> set[str]:
            response = await get(client, key, **params)
            assert response.status_code == 200, response.text
            return {i["id"] for i in response.json()["data"]}

        assert await ids(channel="CALLCENTER") == {str(a)}
        assert await ids(external_commerce_id="COM-002") == {str(b)}
        assert await ids(external_commerce_id="COM-999") == set()
        assert await ids(external_operator_id="OP-17") == {str(a), str(b)}
        assert await ids(external_operator_id="OP-404") == set()
        assert await ids(scheduled_from="2030-01-02T00:00:00Z") == {str(b)}
        assert await ids(scheduled_to="2030-01-01T09:00:00Z") == {str(a)}
        assert await ids(
            scheduled_from="2030-01-01T09:00:00+00:00", scheduled_to="2030-01-01T06:00:00-03:00"
        ) == {str(a)}
        future = (utcnow() + timedelta(hours=1)).isoformat()
        assert await ids(updated_since=future) == set()
        await submit(client, key, world, b, commerce_external_id="COM-002")
        recent = (utcnow() - timedelta(seconds=2)).isoformat()
        assert str(b) in await ids(updated_since=recent)

    async def test_other_tenants_and_message_activities_are_never_listed(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        mine, other = await factory.world(), await factory.world()
        own = await factory.task(mine)
        await factory.task(mine, type=ActivityType.MESSAGE, channel=Channel.WHATSAPP)
        await factory.task(other)
        key = await factory.api_key(mine)
        body = (await get(client, key)).json()
        assert [i["id"] for i in body["data"]] == [str(own)] and body["meta"]["total"] == 1


class TestItemShape:
    async def test_documented_fields(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        activity_id = await factory.task(world, scheduled_at=BASE)
        key = await factory.api_key(world)
        item = (await get(client, key, status="PENDING", per_page=5)).json()["data"][0]
        assert item["id"] == str(activity_id)
        assert item["activityOrigin"] == "ACTIVITY" and item["type"] == "TASK"
        assert item["status"] == "PENDING" and item["channel"] == "SALESMAN"
        assert item["scheduledAt"] == "2030-01-01T09:00:00.000Z"
        assert item["commerceName"] == "Almacén 1" and item["commerceExternalId"] == "COM-001"
        assert item["commerceId"] == str(world.commerce_ids[0])
        assert item["operatorExternalId"] == "OP-17" and item["operatorName"] == "Juan Pérez"
        assert item["routeExternalId"] == "R-1" and item["routeName"] == "Ruta Norte"
        assert item["reason"] == {"code": "retention", "label": "retention"} and item["score"] == 80
        assert item["canForceRetryDispatch"] is False and item["providerActivityId"] is None
        for stamp in ("createdAt", "updatedAt"):
            datetime.strptime(item[stamp], "%Y-%m-%dT%H:%M:%S.%fZ")

    async def test_labels_follow_the_tenant_locale(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(locale="en")
        await factory.task(world)
        key = await factory.api_key(world)
        item = (await get(client, key)).json()["data"][0]
        assert item["lifecycleStatusLabel"] == "Scheduled"

    async def test_etag_304_until_something_changes(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        await factory.task(world)
        key = await factory.api_key(world)
        first = await get(client, key, status="PENDING")
        headers = {"x-api-key": key, "If-None-Match": first.headers["ETag"]}
        cached = await client.get(PATH, params={"status": "PENDING"}, headers=headers)
        assert cached.status_code == 304 and cached.content == b""
        assert "RateLimit-Remaining" in cached.headers
        await factory.task(world)
        fresh = await client.get(PATH, params={"status": "PENDING"}, headers=headers)
        assert fresh.status_code == 200 and fresh.json()["meta"]["total"] == 2


class TestTotalsCache:
    async def test_own_writes_show_at_once_other_processes_within_the_ttl(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        import asyncio

        from sqlalchemy import update

        from reten.activities.models import Activity
        from reten.kit.counts import totals

        old_ttl = totals.ttl
        totals.ttl = 0.4
        try:
            world = await factory.world()
            first = await factory.task(world)
            key = await factory.api_key(world)
            assert (await get(client, key, status="PENDING")).json()["meta"]["total"] == 1
            await factory.task(world)  # a write of this process: the cached total is dropped
            assert (await get(client, key, status="PENDING")).json()["meta"]["total"] == 2
            async with db.sessionmaker() as session:  # a write as another process would make it
                await session.execute(
                    update(Activity).where(Activity.id == first).values(phase="CANCELED")
                )
                await session.commit()
            assert (await get(client, key, status="PENDING")).json()["meta"]["total"] == 2
            await asyncio.sleep(0.45)
            body = (await get(client, key, status="PENDING")).json()
            assert body["meta"]["total"] == 1 and len(body["data"]) == 1
        finally:
            totals.ttl = old_ttl


class TestRenderedByTheDatabase:
    """On PostgreSQL the items are rendered by the database (page_json_sql); they must be the
    items `task_item` builds from the same rows, field for field (on SQLite both are Python)."""

    async def test_database_items_equal_python_items(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        ready = await factory.task(world, scheduled_at=BASE)
        done = await factory.task(world, scheduled_at=BASE + timedelta(hours=1))
        pending = await factory.task(world, scheduled_at=BASE + timedelta(hours=2))
        failed = await factory.task(world, scheduled_at=BASE + timedelta(hours=3))
        await submit(client, key, world, done)
        await submit(client, key, world, pending, status="PENDING")
        async with db.sessionmaker() as session:
            # FAILED by dispatch (no config is active, so no retry may be forced), with a
            # quote and an accent in the detail to exercise the database's escaping.
            await session.execute(
                update(Activity)
                .where(Activity.id == failed)
                .values(
                    status="FAILED",
                    lifecycle_status="DISPATCH_FAILED",
                    lifecycle_detail='receiver said "no" — twice',
                )
            )
            await session.commit()
        built_in: dict[str, object] = {}
        for locale in ("es", "en"):
            page = PageParams(1, 20)
            rendered = orjson.loads(
                await service.list_tasks(db, world.tenant_id, service.TaskFilters(), page, locale)
            )
            built = await service.list_task_items(
                db, world.tenant_id, service.TaskFilters(), page, locale
            )
            assert rendered == built
            assert [i["id"] for i in rendered] == [str(a) for a in (ready, done, pending, failed)]
            assert {i["status"] for i in rendered} == {"PENDING", "COMPLETED", "IN_PROGRESS"}
            built_in[locale] = built
        # The endpoint answers in the tenant's locale (the world's is es).
        assert (await get(client, key)).json()["data"] == built_in["es"]
