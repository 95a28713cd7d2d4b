"""The task list's read model (`task_list_items`, PostgreSQL): every write that changes a field an
item shows is in the next list response.

Each test makes one kind of change through the path the product uses for it (the API, or the
bulk SQL statement the dispatch engine runs), then holds the list PostgreSQL serves from its
rendered items equal, field for field, to the items built in Python from the live tables. A
trigger that is missing or renders a stale column makes the two differ.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import delete, func, select, text, update

from reten.activities.models import Activity, ActivityType, TaskDetails
from reten.integration import service
from reten.integration.models import task_list_items
from reten.integration.vocabulary import IntegrationStatus
from reten.kit.db import Database
from reten.kit.pagination import PageParams
from reten.kit.time import utcnow
from reten.operators.models import Operator
from reten.results.models import ActivityResult
from tests.conftest import BACKEND
from tests.dispatch.makers import CONFIGS, config_body
from tests.factories import Factory, World, result_body

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="only PostgreSQL serves the list from rendered items"
)

ALL = service.TaskFilters()


async def listed(db: Database, world: World, f: service.TaskFilters = ALL) -> list[dict[str, Any]]:
    """The tenant's task list as served, after checking it against the live tables."""
    page = PageParams(1, 100)
    served: dict[str, list[dict[str, Any]]] = {}
    for locale in ("es", "en"):
        rendered = orjson.loads(await service.list_tasks(db, world.tenant_id, f, page, locale))
        built = await service.list_task_items(db, world.tenant_id, f, page, locale)
        assert rendered == built
        served[locale] = rendered
    return served["es"]


async def stored_body(db: Database, activity_id: uuid.UUID) -> str | None:
    """The item's stored members, as the triggers last wrote them."""
    async with db.sessionmaker() as session:
        return await session.scalar(
            select(task_list_items.c.body).where(task_list_items.c.activity_id == activity_id)
        )


def item(items: list[dict[str, Any]], activity_id: uuid.UUID) -> dict[str, Any]:
    return next(i for i in items if i["id"] == str(activity_id))


async def admin(factory: Factory, world: World) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {await factory.login(world.admin_email)}",
        "x-tenant-id": str(world.tenant_id),
    }


async def submit(
    client: httpx.AsyncClient, key: str, world: World, activity_id: uuid.UUID, **kw: object
) -> httpx.Response:
    response = await client.post(
        "/api/integration/activity-results/tasks",
        headers={"x-api-key": key},
        json=result_body(world, activity_id, **kw),
    )
    assert response.status_code == 201, response.text
    return response


class TestActivityWrites:
    async def test_created_tasks_are_listed_messages_are_not_rendered(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        one = await factory.task(world)
        body = {
            "items": [
                {
                    "type": "TASK",
                    "channel": "SALESMAN",
                    "reason": "batch",
                    "commerce_id": str(world.commerce_ids[1]),
                    "idempotency_key": f"batch-{i}",
                    "scheduled_at": (utcnow() + timedelta(days=2, hours=i)).isoformat(),
                    "assigned_route_id": str(world.route_id),
                    "assigned_operator_id": str(world.operator_id),
                }
                for i in range(3)
            ]
        }
        created = await client.post(
            "/api/activities/batch", json=body, headers=await admin(factory, world)
        )
        assert created.status_code == 200, created.text
        assert created.json()["created"] == 3, created.text
        items = await listed(db, world)
        assert len(items) == 4 and item(items, one)["commerceName"] == "Almacén 1"
        assert {i["commerceExternalId"] for i in items} == {"COM-001", "COM-002"}
        assert {i["routeName"] for i in items} == {"Ruta Norte"}
        message = await factory.task(world, type=ActivityType.MESSAGE)
        async with db.sessionmaker() as session:
            rendered = await session.scalar(
                select(func.count()).where(task_list_items.c.activity_id == message)
            )
        assert rendered == 0

    async def test_results_move_the_item(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        pending, done = await factory.task(world), await factory.task(world)
        await submit(client, key, world, pending, status="PENDING")
        await submit(client, key, world, done)
        items = await listed(db, world)
        assert (item(items, pending)["status"], item(items, pending)["resultStatus"]) == (
            "IN_PROGRESS",
            "PENDING",
        )
        assert item(items, done)["resultCode"] == "SALE_COMPLETED"
        assert item(items, done)["occurredAt"] is not None
        # A hard override supersedes the final result: the item shows the new one.
        await submit(
            client,
            key,
            world,
            done,
            status="NOT_EFFECTIVE",
            hard_override=True,
            task_result={"result": "NOT_INTERESTED", "operator_external_id": "OP-17"},
        )
        items = await listed(db, world)
        assert (item(items, done)["lifecycleStatus"], item(items, done)["resultCode"]) == (
            "NOT_EFFECTIVE",
            "NOT_INTERESTED",
        )

    async def test_cancel(self, client: httpx.AsyncClient, factory: Factory, db: Database) -> None:
        world = await factory.world()
        task = await factory.task(world)
        before = item(await listed(db, world), task)
        response = await client.patch(
            f"/api/activities/{task}/cancel",
            json={"reason": "store closed"},
            headers=await admin(factory, world),
        )
        assert response.status_code == 200, response.text
        after = item(await listed(db, world), task)
        assert (after["status"], after["lifecycleStatus"]) == ("CANCELLED", "CANCELED")
        assert after["updatedAt"] >= before["updatedAt"]

    async def test_dispatch_outcomes_written_by_bulk_sql(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        sent, failed = await factory.task(world), await factory.task(world)
        async with db.sessionmaker() as session:
            # The dispatch engine's statements are Core UPDATEs, not ORM flushes.
            await session.execute(
                update(Activity)
                .where(Activity.id == sent)
                .values(
                    status="DISPATCHED",
                    lifecycle_status="DISPATCHED",
                    provider_activity_id="yom-881",
                )
            )
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
        items = await listed(db, world)
        assert item(items, sent)["providerActivityId"] == "yom-881"
        assert item(items, failed)["lifecycleStatusDetail"] == 'receiver said "no" — twice'

    async def test_an_update_of_columns_no_item_shows_renders_nothing(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        async with db.sessionmaker() as session:
            await session.execute(
                text("UPDATE task_list_items SET body = body || ' ' WHERE activity_id = :id"),
                {"id": task},
            )
            # Only dispatch bookkeeping changes (not even updated_at, which items show).
            await session.execute(
                text(
                    "UPDATE activities SET lease_until = now() + interval '1 minute',"
                    " attempt_count = attempt_count + 1 WHERE id = :id"
                ),
                {"id": task},
            )
            await session.commit()
        body = await stored_body(db, task)
        assert body is not None and body.endswith(" ")  # not rewritten


class TestRelatedRows:
    async def test_operator_rename(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        response = await client.patch(
            f"/api/operators/{world.operator_id}",
            json={"name": "Juana Rojas"},
            headers=await admin(factory, world),
        )
        assert response.status_code == 200, response.text
        assert item(await listed(db, world), task)["operatorName"] == "Juana Rojas"

    async def test_operator_sync_renames(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        response = await client.post(
            "/api/operators/sync",
            json={"items": [{"type": "SALESMAN", "external_id": "OP-17", "name": "Pedro Soto"}]},
            headers=await admin(factory, world),
        )
        assert response.status_code in (200, 201), response.text
        assert item(await listed(db, world), task)["operatorName"] == "Pedro Soto"

    async def test_route_rename_and_external_id(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        response = await client.patch(
            f"/api/routes/{world.route_id}",
            json={"name": "Ruta Sur", "external_id": "R-9"},
            headers=await admin(factory, world),
        )
        assert response.status_code == 200, response.text
        shown = item(await listed(db, world), task)
        assert (shown["routeName"], shown["routeExternalId"]) == ("Ruta Sur", "R-9")

    async def test_commerce_rename_is_read_time(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        body_before = await stored_body(db, task)
        response = await client.patch(
            f"/api/commerces/{world.commerce_ids[0]}",
            json={"name": 'Almacén "Don Pepe"'},
            headers=await admin(factory, world),
        )
        assert response.status_code == 200, response.text
        assert item(await listed(db, world), task)["commerceName"] == 'Almacén "Don Pepe"'
        # The commerce is joined when the list is read: renaming one rewrites no item.
        assert await stored_body(db, task) == body_before

    async def test_task_details_changed_or_removed(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        task = await factory.task(world)
        async with db.sessionmaker() as session:
            other = Operator(
                tenant_id=world.tenant_id, type="SALESMAN", external_id="OP-99", first_name="Ana"
            )
            session.add(other)
            await session.flush()
            await session.execute(
                update(TaskDetails)
                .where(TaskDetails.activity_id == task)
                .values(operator_id=other.id)
            )
            await session.commit()
        shown = item(await listed(db, world), task)
        assert (shown["operatorExternalId"], shown["operatorName"]) == ("OP-99", "Ana")
        async with db.sessionmaker() as session:
            await session.execute(delete(TaskDetails).where(TaskDetails.activity_id == task))
            await session.commit()
        shown = item(await listed(db, world), task)
        assert (shown["operatorExternalId"], shown["routeName"]) == (None, None)

    async def test_an_edited_result(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        task = await factory.task(world)
        result_id = (await submit(client, key, world, task)).json()["id"]
        async with db.sessionmaker() as session:
            await session.execute(
                update(ActivityResult)
                .where(ActivityResult.id == uuid.UUID(result_id))
                .values(result_code="NO_CONTACT")
            )
            await session.commit()
        assert item(await listed(db, world), task)["resultCode"] == "NO_CONTACT"


class TestReadTimeFields:
    async def test_a_retry_may_be_forced_once_the_channel_has_an_active_config(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        async with db.sessionmaker() as session:
            await session.execute(
                update(Activity)
                .where(Activity.id == task)
                .values(status="FAILED", lifecycle_status="DISPATCH_FAILED")
            )
            await session.commit()
        assert item(await listed(db, world), task)["canForceRetryDispatch"] is False
        headers = await admin(factory, world)
        created = await client.post(CONFIGS, json=await config_body(db, "YOM"), headers=headers)
        assert created.status_code == 201, created.text
        config = created.json()["id"]
        activated = await client.post(f"{CONFIGS}/{config}/activate", headers=headers)
        assert activated.status_code == 200, activated.text
        assert item(await listed(db, world), task)["canForceRetryDispatch"] is True

    async def test_every_filter_shape_reads_the_same_items(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        tasks = [await factory.task(world, commerce_index=i % 2) for i in range(4)]
        await submit(client, key, world, tasks[0])
        for f in (
            service.TaskFilters(statuses=(IntegrationStatus.PENDING,)),
            service.TaskFilters(external_commerce_id="COM-002"),
            service.TaskFilters(external_operator_id="OP-17", channel="SALESMAN"),
            service.TaskFilters(updated_since=utcnow() - timedelta(hours=1)),
        ):
            assert await listed(db, world, f)


class TestConcurrentWrites:
    async def test_a_rename_waiting_on_a_result_keeps_the_result(
        self, factory: Factory, db: Database
    ) -> None:
        """A rename that renders an item while a result on the same activity is uncommitted waits
        for it, then renders both: the item shows the result and the new name."""
        world = await factory.world()
        task = await factory.task(world)
        async with db.engine.connect() as result_side:
            await result_side.begin()
            await result_side.execute(
                update(Activity)
                .where(Activity.id == task)
                .values(status="DISPATCHED", lifecycle_status="DISPATCHED")
            )

            async def rename() -> None:
                async with db.engine.begin() as rename_side:
                    await rename_side.execute(
                        update(Operator)
                        .where(Operator.id == world.operator_id)
                        .values(first_name="Marta", last_name="Díaz")
                    )

            renaming = asyncio.create_task(rename())
            await asyncio.sleep(0.5)
            assert not renaming.done()  # waiting for the activity the result holds
            await result_side.commit()
        await asyncio.wait_for(renaming, 10)
        shown = item(await listed(db, world), task)
        assert (shown["lifecycleStatus"], shown["operatorName"]) == ("DISPATCHED", "Marta Díaz")
