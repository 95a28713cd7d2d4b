"""The panel's activity pages: list filters, detail, actions and their refusals, creation."""

from __future__ import annotations

import re
import uuid

import httpx

from reten.activities.models import ActivityType, Channel
from reten.auth.permissions import Permission, Role
from tests.admin.support import browser
from tests.factories import Factory, result_body


async def _result(
    factory: Factory,
    client: httpx.AsyncClient,
    world: object,
    activity_id: uuid.UUID,
    **over: object,
) -> httpx.Response:
    key = await factory.api_key(
        world,  # type: ignore[arg-type]
        [Permission.SUBMIT_ACTIVITY_RESULT, Permission.CREATE_ACTIVITY, Permission.VIEW_ACTIVITIES],
    )
    return await client.post(
        "/api/activity-results/tasks",
        headers={"x-api-key": key},
        json=result_body(world, activity_id, **over),  # type: ignore[arg-type]
    )


class TestList:
    async def test_filters_are_in_the_url_and_htmx_gets_the_list_only(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        task = await factory.task(world)
        message = await factory.task(
            world, commerce_index=1, type=ActivityType.MESSAGE, channel=Channel.WHATSAPP
        )
        async with browser(app) as b:
            await b.login(world.admin_email)
            everything = await b.get("/activities")
            tasks = await b.get("/activities?type=TASK")
            by_commerce = await b.get(f"/activities?commerce_id={world.commerce_ids[1]}")
            searched = await b.get("/activities?search=Almac%C3%A9n%202")
            htmx = await b.get("/activities?channel=WHATSAPP", headers={"hx-request": "true"})
            empty = await b.get("/activities?status=CANCELED")
            bad = await b.get("/activities?status=NOPE")
        assert everything.status_code == 200
        assert (
            f"/activities/{task}" in everything.text and f"/activities/{message}" in everything.text
        )
        assert f"/activities/{task}" in tasks.text and f"/activities/{message}" not in tasks.text
        assert f"/activities/{message}" in by_commerce.text
        assert f"/activities/{task}" not in by_commerce.text
        assert (
            f"/activities/{message}" in searched.text and f"/activities/{task}" not in searched.text
        )
        assert "<html" not in htmx.text and f"/activities/{message}" in htmx.text
        assert f"/activities/{task}" not in htmx.text
        assert "Nothing matches these filters." in empty.text
        assert bad.status_code == 400 and "<h1>Bad request</h1>" in bad.text

    async def test_pages_are_server_side_and_keep_the_filters(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        for _ in range(3):
            await factory.task(world)
        async with browser(app) as b:
            await b.login(world.admin_email)
            first = await b.get("/activities?type=TASK&per_page=2&sort=scheduled_at")
            second = await b.get("/activities?type=TASK&per_page=2&sort=scheduled_at&page=2")
        rows = re.compile(r'<tr id="activity-')
        assert len(rows.findall(first.text)) == 2 and len(rows.findall(second.text)) == 1
        assert "page=2" in first.text and "type=TASK" in first.text


class TestDetail:
    async def test_shows_results_with_the_superseded_struck_and_the_timeline(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        activity = await factory.task(world)
        first = await _result(factory, client, world, activity, status="NOT_EXECUTED")
        assert first.status_code in (200, 201), first.text
        # A hard override replaces the final result: the first one is superseded.
        final = await _result(
            factory, client, world, activity, status="COMPLETED", hard_override=True
        )
        assert final.status_code in (200, 201), final.text
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get(f"/activities/{activity}")
        assert page.status_code == 200
        assert "Venta completada" in page.text
        assert '<tr class="superseded">' in page.text and "<s>NOT_EXECUTED</s>" in page.text
        assert "READY" in page.text and "CREATED" in page.text  # first status event
        assert "Almacén 1" in page.text and "Ruta Norte" in page.text

    async def test_cancel_asks_first_then_cancels_and_the_button_goes_away(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        activity = await factory.task(world)
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get(f"/activities/{activity}")
            assert "Cancel activity" in page.text
            assert "Retry dispatch" not in page.text and "Resend" not in page.text
            confirm = await b.post(f"/activities/{activity}/cancel", {})
            assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
            done = await b.post(
                f"/activities/{activity}/cancel", {"confirm": "yes", "reason": "closed shop"}
            )
            assert done.status_code == 303
            after = await b.get(f"/activities/{activity}")
            again = await b.post(f"/activities/{activity}/cancel", {"confirm": "yes"})
            resend = await b.post(f"/activities/{activity}/resend", {})
        assert ">CANCELED<" in after.text and "closed shop" in after.text
        assert "Cancel activity</button>" not in after.text
        # Refused by the service's rules, shown as a page, never a 500.
        assert again.status_code == 400 and "<h1>Bad request</h1>" in again.text
        # No active dispatch configuration for the channel: the API's 404, as a page.
        assert resend.status_code == 404 and "No active dispatch config" in resend.text

    async def test_a_viewer_sees_no_action_and_is_refused_when_posting(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        activity = await factory.task(world)
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(viewer)
            listing = await b.get("/activities")
            page = await b.get(f"/activities/{activity}")
            cancel = await b.post(f"/activities/{activity}/cancel", {"confirm": "yes"})
            retry = await b.post(f"/activities/{activity}/retry-dispatch", {})
            new = await b.get("/activities/new")
        assert listing.status_code == 200 and "New activity" not in listing.text
        assert page.status_code == 200 and "<button" not in page.text.split("</header>")[1]
        assert cancel.status_code == 403 and "requires CANCEL_ACTIVITY" in cancel.text
        assert retry.status_code == 403 and new.status_code == 403

    async def test_another_tenants_activity_is_not_found(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        activity = await factory.task(theirs)
        async with browser(app) as b:
            await b.login(mine.admin_email)
            page = await b.get(f"/activities/{activity}")
            await b.get("/activities")
            cancel = await b.post(f"/activities/{activity}/cancel", {"confirm": "yes"})
            listing = await b.get("/activities")
        assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
        assert cancel.status_code == 404
        assert str(activity) not in listing.text

    async def test_a_post_without_the_csrf_token_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        activity = await factory.task(world)
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get(f"/activities/{activity}")
            refused = await b.post(f"/activities/{activity}/cancel", {"confirm": "yes"}, csrf=False)
            page = await b.get(f"/activities/{activity}")
        assert refused.status_code == 403 and "did not come from this site" in refused.text
        assert ">READY<" in page.text


class TestCreate:
    async def test_a_task_and_a_message_with_the_api_rules(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        base = {
            "channel": "SALESMAN",
            "reason": "retention",
            "commerce_id": str(world.commerce_ids[0]),
            "scheduled_at": "2030-01-02T10:00",
        }
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get("/activities/new")
            missing = await b.post(
                "/activities", {**base, "type": "TASK", "idempotency_key": "k-1"}
            )
            assert missing.status_code == 400
            assert re.search(r'id="e-assigned_route_id">is required for TASK', missing.text)
            task = await b.post(
                "/activities",
                {
                    **base,
                    "type": "TASK",
                    "idempotency_key": "k-1",
                    "assigned_route_id": str(world.route_id),
                    "assigned_operator_id": str(world.operator_id),
                },
            )
            assert task.status_code == 303
            shown = await b.get(task.headers["location"])
            await b.get("/activities/new")
            message = await b.post(
                "/activities",
                {**base, "type": "MESSAGE", "channel": "WHATSAPP", "idempotency_key": "k-2"},
            )
            await b.get("/activities/new")
            duplicate = await b.post(
                "/activities", {**base, "type": "MESSAGE", "idempotency_key": "k-2"}
            )
        assert "Ruta Norte" in shown.text and "Juan Pérez" in shown.text
        # 10:00 in Santiago (UTC-3 in January) is 13:00 UTC.
        assert 'datetime="2030-01-02T13:00:00' in shown.text
        assert message.status_code == 303
        assert duplicate.status_code == 409 and "idempotency_key already exists" in duplicate.text


class TestResults:
    async def test_lists_standalone_results_and_filters_by_status(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        activity = await factory.task(world)
        linked = await _result(factory, client, world, activity, status="NOT_EXECUTED")
        standalone = await _result(
            factory, client, world, None, status="COMPLETED", provider_activity_id="EXT-77"
        )
        assert linked.status_code == 201 and standalone.status_code == 201, standalone.text
        async with browser(app) as b:
            await b.login(world.admin_email)
            everything = await b.get("/results")
            completed = await b.get("/results?status=COMPLETED", headers={"hx-request": "true"})
            bad = await b.get("/results?source=NOPE")
        assert f"/activities/{activity}" in everything.text and "standalone" in everything.text
        assert "<html" not in completed.text and "standalone" in completed.text
        assert f"/activities/{activity}" not in completed.text
        assert bad.status_code == 400
