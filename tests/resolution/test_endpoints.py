"""The resolution endpoints (management-api.md §11.8–11.11)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from reten.activities import service as activities
from reten.activities.models import Activity, ActivityStatusEvent
from reten.auth.permissions import Permission
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.resolution import service as resolution
from reten.resolution.models import ActivityTargetUser
from tests.factories import Factory, World
from tests.resolution.support import (
    Caller,
    add_config,
    add_contact,
    add_user,
    admin,
    member,
    new_activity,
    request,
    set_policy,
)

TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
OWNER = [{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}]
TARGET_FAILED = (
    "Could not resolve target user (no active commerce user matches the criteria or the fallbacks)"
)


def retry_path(activity_id: Any) -> str:
    return f"/api/activities/{activity_id}/retry-resolution"


def targets_path(activity_id: Any) -> str:
    return f"/api/activities/{activity_id}/target-users"


def resolve_path(activity_id: Any, target_id: Any) -> str:
    return f"/api/activities/{activity_id}/target-users/{target_id}/resolve"


def attributes_path(activity_id: Any) -> str:
    return f"/api/activities/{activity_id}/attributes"


async def unresolved(factory: Factory, world: World, **req: Any) -> uuid.UUID:
    """An UNRESOLVED activity: by default its target user FAILED (nobody holds OWNER)."""
    req.setdefault("criteria", OWNER)
    activity_id, detail = await new_activity(factory, world, request(**req))
    assert detail is not None
    return activity_id


async def events(db: Database, activity_id: uuid.UUID) -> list[ActivityStatusEvent]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(ActivityStatusEvent)
            .where(ActivityStatusEvent.activity_id == activity_id)
            .order_by(ActivityStatusEvent.created_at, ActivityStatusEvent.id)
        )
        return list(rows.scalars())


async def stored(db: Database, activity_id: uuid.UUID) -> Activity:
    async with db.sessionmaker() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        return activity


async def target_id(caller: Caller, activity_id: uuid.UUID) -> str:
    (target,) = (await caller.get(targets_path(activity_id))).json()
    return str(target["id"])


class TestRetryResolution:
    async def test_a_fixed_failure_makes_the_activity_ready(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        await add_user(db, caller.world, ["OWNER"])
        response = await caller.patch(retry_path(activity_id))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == str(activity_id)
        assert body["status"] == "READY"
        assert {"dispatch", "results", "statusEvents"} <= set(body)
        first, last = body["statusEvents"][0], body["statusEvents"][-1]
        assert (first["event"], first["toStatus"], first["detail"]) == (
            "RESOLUTION_FAILED", "UNRESOLVED", TARGET_FAILED,
        )  # fmt: skip
        assert last["event"] == "RESOLUTION_RETRY_SUCCESS"
        assert (last["fromStatus"], last["toStatus"], last["detail"]) == (
            "UNRESOLVED",
            "READY",
            None,
        )
        assert last["actor"]["type"] == "USER"
        assert last["actor"]["label"] == caller.world.admin_email
        activity = await stored(db, activity_id)
        assert (activity.status, activity.lifecycle_detail) == ("READY", None)
        assert activity.lifecycle_status == "SCHEDULED"
        (target,) = (await caller.get(targets_path(activity_id))).json()
        assert target["resolutionStatus"] == "RESOLVED"

    async def test_a_lasting_failure_keeps_it_unresolved_with_the_reason(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world, keys=["promotions"])
        await add_user(db, caller.world, ["OWNER"])
        response = await caller.patch(retry_path(activity_id))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "UNRESOLVED"
        last = body["statusEvents"][-1]
        expected = "Could not resolve attribute promotions (no data source for promotions)"
        assert (last["event"], last["fromStatus"], last["toStatus"], last["detail"]) == (
            "RESOLUTION_RETRY_FAILED", "UNRESOLVED", "UNRESOLVED", expected,
        )  # fmt: skip
        assert (await stored(db, activity_id)).lifecycle_detail == expected
        assert len(await events(db, activity_id)) == 2

    @pytest.mark.parametrize("status", ["READY", "CANCELED"])
    async def test_only_an_unresolved_activity_may_retry(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, status: str
    ) -> None:
        caller = await admin(client, factory)
        if status == "READY":
            activity_id, _ = await new_activity(factory, caller.world, request())
        else:
            activity_id = await unresolved(factory, caller.world)
            async with db.sessionmaker() as session:
                await activities.cancel_activity(
                    session, caller.world.tenant_id, activity_id, Actor.system()
                )
        before = len(await events(db, activity_id))
        response = await caller.patch(retry_path(activity_id))
        assert response.status_code == 400
        assert response.json()["message"] == f"Activity in status {status} cannot retry resolution"
        assert len(await events(db, activity_id)) == before

    async def test_unknown_foreign_and_malformed_ids(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        foreign = await unresolved(factory, other.world)
        for activity_id in (uuid.uuid4(), foreign):
            response = await caller.patch(retry_path(activity_id))
            assert response.status_code == 404
            assert response.json()["message"] == "Activity not found"
        malformed = await caller.patch(retry_path("x"))
        assert malformed.status_code == 400
        assert malformed.json()["details"][0]["field"] == "id"

    async def test_an_api_key_is_the_recorded_actor_and_a_body_is_ignored(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        activity_id = await unresolved(factory, world)
        await add_user(db, world, ["OWNER"])
        key = await factory.api_key(world, [Permission.CREATE_ACTIVITY])
        response = await client.patch(
            retry_path(activity_id), headers={"x-api-key": key}, json={"anything": [1]}
        )
        assert response.status_code == 200, response.text
        actor = response.json()["statusEvents"][-1]["actor"]
        assert actor["type"] == "API_KEY" and actor["id"] is not None

    async def test_a_viewer_may_not_retry(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        viewer = await member(client, factory, caller.world, "VIEWER")
        activity_id = await unresolved(factory, caller.world)
        response = await viewer.patch(retry_path(activity_id))
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires CREATE_ACTIVITY"

    async def test_concurrent_retries_move_the_activity_once(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        await add_user(db, caller.world, ["OWNER"])
        responses = await asyncio.gather(*(caller.patch(retry_path(activity_id)) for _ in range(3)))
        assert sorted(r.status_code for r in responses) == [200, 400, 400], [
            r.text for r in responses
        ]
        names = [e.event for e in await events(db, activity_id)]
        assert names == ["RESOLUTION_FAILED", "RESOLUTION_RETRY_SUCCESS"]


class TestTargetUsers:
    async def test_no_record_is_an_empty_list(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        activity_id, _ = await new_activity(factory, caller.world, request())
        response = await caller.get(targets_path(activity_id))
        assert (response.status_code, response.json()) == (200, [])

    async def test_a_resolved_target_user(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        owner = await add_user(db, caller.world, ["OWNER"], name="Maria Garcia Lopez")
        activity_id, _ = await new_activity(factory, caller.world, request(criteria=OWNER))
        viewer = await member(client, factory, caller.world, "VIEWER")
        response = await viewer.get(targets_path(activity_id))
        assert response.status_code == 200
        (target,) = response.json()
        assert set(target) == {
            "id", "commerceUserId", "resolutionStatus", "resolutionStrategy", "lockReason",
            "resolvedAt", "lockedAt", "commerceUser",
        }  # fmt: skip
        assert target["commerceUserId"] == str(owner)
        assert (target["resolutionStatus"], target["resolutionStrategy"]) == (
            "RESOLVED",
            "ON_CREATION",
        )
        assert target["lockReason"] == "CRITERIA_MATCH"
        assert re.match(TIMESTAMP, target["resolvedAt"])
        assert target["lockedAt"] is None
        assert target["commerceUser"] == {
            "id": str(owner), "name": "Maria Garcia Lopez", "firstName": "Maria",
            "lastName": "Garcia Lopez",
        }  # fmt: skip

    async def test_a_failed_target_user_has_nulls(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        (target,) = (await caller.get(targets_path(activity_id))).json()
        assert target["resolutionStatus"] == "FAILED"
        for name in ("commerceUserId", "commerceUser", "lockReason", "resolvedAt", "lockedAt"):
            assert target[name] is None

    async def test_unknown_foreign_and_malformed_ids(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        foreign = await unresolved(factory, other.world)
        for activity_id in (uuid.uuid4(), foreign):
            response = await caller.get(targets_path(activity_id))
            assert response.status_code == 404
            assert response.json()["message"] == "Activity not found"
        assert (await caller.get(targets_path("nope"))).status_code == 400


class TestManualResolve:
    async def test_a_failed_target_is_locked_on_the_chosen_user(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        user = await add_user(db, caller.world, ["ORDERS"], name="Pedro Soto")
        tid = await target_id(caller, activity_id)
        response = await caller.patch(resolve_path(activity_id, tid), {"commerceUserId": str(user)})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == tid
        assert (body["resolutionStatus"], body["lockReason"]) == ("LOCKED", "MANUAL_ASSIGNMENT")
        assert body["commerceUserId"] == str(user)
        assert body["commerceUser"]["name"] == "Pedro Soto"
        assert body["resolvedAt"] == body["lockedAt"]
        assert re.match(TIMESTAMP, body["lockedAt"])
        # The activity's status does not move: it still needs retry-resolution.
        assert (await stored(db, activity_id)).status == "UNRESOLVED"
        assert (await caller.get(targets_path(activity_id))).json() == [body]
        retried = await caller.patch(retry_path(activity_id))
        assert retried.json()["status"] == "READY"

    async def test_a_pending_manual_target_may_be_resolved(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        await add_config(db, caller.world, strategy="MANUAL")
        activity_id, _ = await new_activity(factory, caller.world, request())
        user = await add_user(db, caller.world, ["OTHER"])
        tid = await target_id(caller, activity_id)
        response = await caller.patch(
            resolve_path(activity_id, tid), {"commerce_user_id": str(user)}
        )
        assert response.status_code == 200, response.text
        assert response.json()["resolutionStrategy"] == "MANUAL"
        assert (await stored(db, activity_id)).status == "READY"

    async def test_a_resolved_or_locked_target_is_refused(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        user = await add_user(db, caller.world, ["OWNER"])
        activity_id, _ = await new_activity(factory, caller.world, request(criteria=OWNER))
        tid = await target_id(caller, activity_id)
        for _ in range(2):  # RESOLVED, then (after a manual lock elsewhere) LOCKED
            response = await caller.patch(
                resolve_path(activity_id, tid), {"commerce_user_id": str(user)}
            )
            assert response.status_code == 400
            assert response.json()["message"] == "Target user is already resolved"
            async with db.sessionmaker() as session:
                target = await session.get(ActivityTargetUser, uuid.UUID(tid))
                assert target is not None
                target.resolution_status = "LOCKED"
                await session.commit()

    async def test_the_commerce_user_must_belong_to_the_activitys_commerce(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        tid = await target_id(caller, activity_id)
        candidates = [
            await add_user(db, caller.world, ["OWNER"], commerce_index=1),
            await add_user(db, other.world, ["OWNER"]),
            uuid.uuid4(),
        ]
        for user in candidates:
            response = await caller.patch(
                resolve_path(activity_id, tid), {"commerce_user_id": str(user)}
            )
            assert response.status_code == 404
            assert response.json()["message"] == "Commerce user not found"
        (target,) = (await caller.get(targets_path(activity_id))).json()
        assert target["resolutionStatus"] == "FAILED"

    async def test_an_inactive_commerce_user_is_refused(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        user = await add_user(db, caller.world, ["ORDERS"], active=False)
        tid = await target_id(caller, activity_id)
        response = await caller.patch(
            resolve_path(activity_id, tid), {"commerce_user_id": str(user)}
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Commerce user is inactive"

    async def test_a_terminal_activity_is_refused(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        user = await add_user(db, caller.world, ["ORDERS"])
        tid = await target_id(caller, activity_id)
        async with db.sessionmaker() as session:
            await activities.cancel_activity(
                session, caller.world.tenant_id, activity_id, Actor.system()
            )
        response = await caller.patch(
            resolve_path(activity_id, tid), {"commerce_user_id": str(user)}
        )
        assert response.status_code == 400
        assert response.json()["message"] == (
            "Activity in status CANCELED cannot have its target user resolved"
        )

    async def test_unknown_activity_and_foreign_target_user_are_404(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        first = await unresolved(factory, caller.world)
        second = await unresolved(factory, caller.world)
        user = await add_user(db, caller.world, ["ORDERS"])
        body = {"commerce_user_id": str(user)}
        wrong = await caller.patch(resolve_path(first, await target_id(caller, second)), body)
        assert wrong.status_code == 404
        assert wrong.json()["message"] == "Target user not found"
        missing = await caller.patch(resolve_path(uuid.uuid4(), uuid.uuid4()), body)
        assert missing.status_code == 404
        assert missing.json()["message"] == "Activity not found"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "commerce_user_id"),
            ({"commerce_user_id": None}, "commerce_user_id"),
            ({"commerceUserId": "nope"}, "commerceUserId"),
        ],
    )
    async def test_bad_bodies_and_ids_are_400(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, Any], field: str
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        tid = await target_id(caller, activity_id)
        response = await caller.patch(resolve_path(activity_id, tid), body)
        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == [field]
        bad_path = await caller.patch(
            resolve_path(activity_id, "x"), {"commerce_user_id": str(uuid.uuid4())}
        )
        assert bad_path.status_code == 400
        assert bad_path.json()["details"][0]["field"] == "targetUserId"

    async def test_concurrent_assignments_lock_once(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        users = [await add_user(db, caller.world, ["ORDERS"], minute=i) for i in range(3)]
        tid = await target_id(caller, activity_id)
        responses = await asyncio.gather(
            *(
                caller.patch(resolve_path(activity_id, tid), {"commerce_user_id": str(u)})
                for u in users
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 400, 400]
        (winner,) = [r.json() for r in responses if r.status_code == 200]
        (target,) = (await caller.get(targets_path(activity_id))).json()
        assert target["commerceUserId"] == winner["commerceUserId"]

    async def test_an_fde_may_resolve_but_a_viewer_may_not(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id = await unresolved(factory, caller.world)
        user = await add_user(db, caller.world, ["ORDERS"])
        tid = await target_id(caller, activity_id)
        viewer = await member(client, factory, caller.world, "VIEWER")
        fde = await member(client, factory, caller.world, "FDE")
        body = {"commerce_user_id": str(user)}
        assert (await viewer.patch(resolve_path(activity_id, tid), body)).status_code == 403
        assert (await fde.patch(resolve_path(activity_id, tid), body)).status_code == 200


class TestAttributes:
    async def test_attributes_are_listed_by_key_with_values_once_settled(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        await set_policy(db, caller.world, "commerce_info", "ON_DISPATCH", "INTERNAL_SERVICE")
        owner = await add_user(db, caller.world, ["OWNER"])
        await add_contact(db, caller.world, owner, "EMAIL", "o@x.cl")
        activity_id, _ = await new_activity(
            factory,
            caller.world,
            request(
                keys=["promotions", "commerce_info"],
                attributes=[{"key": "primary_contact", "fallback": {"f": 1}}],
            ),
        )
        viewer = await member(client, factory, caller.world, "VIEWER")
        response = await viewer.get(attributes_path(activity_id))
        assert response.status_code == 200
        info, contact, promotions = response.json()
        assert set(info) == {
            "id", "activityId", "attributeKeyId", "attributeKey", "value", "resolutionStatus",
            "resolverType", "resolvedAt", "errorMessage", "createdAt", "updatedAt",
        }  # fmt: skip
        assert info["attributeKey"] == {"key": "commerce_info", "label": "Commerce Info"}
        assert info["activityId"] == str(activity_id)
        assert (info["resolutionStatus"], info["value"], info["resolvedAt"]) == (
            "PENDING",
            None,
            None,
        )
        assert contact["attributeKey"]["key"] == "primary_contact"
        assert contact["resolutionStatus"] == "RESOLVED"
        assert contact["value"] == {
            "commerceUserId": str(owner), "name": "Maria Garcia", "type": "EMAIL", "value": "o@x.cl",
        }  # fmt: skip
        assert re.match(TIMESTAMP, contact["resolvedAt"]) and re.match(
            TIMESTAMP, contact["createdAt"]
        )
        assert (promotions["resolutionStatus"], promotions["value"]) == ("FAILED", None)
        assert promotions["errorMessage"] == "no data source for promotions"
        assert promotions["resolverType"] == "INTERNAL_SERVICE"

    async def test_a_fallback_value_is_shown(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        activity_id, _ = await new_activity(
            factory, caller.world, request(attributes=[{"key": "promotions", "fallback": ["p"]}])
        )
        (item,) = (await caller.get(attributes_path(activity_id))).json()
        assert (item["resolutionStatus"], item["value"]) == ("FALLBACK", ["p"])

    async def test_a_failed_or_pending_value_is_never_shown(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        activity_id, _ = await new_activity(factory, caller.world, request(keys=["promotions"]))
        for status in ("FAILED", "PENDING"):
            # A value left behind by an earlier run (e.g. a dispatch-time resolution that
            # failed after succeeding once) is not the attribute's value.
            async with db.sessionmaker() as session:
                record = (
                    await resolution.attributes(session, caller.world.tenant_id, activity_id)
                )[0][0]
                record.resolution_status, record.value = status, {"stale": True}
                session.add(record)
                await session.commit()
            (item,) = (await caller.get(attributes_path(activity_id))).json()
            assert (item["resolutionStatus"], item["value"]) == (status, None)

    async def test_none_is_an_empty_list_and_ids_are_checked(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        activity_id, _ = await new_activity(factory, caller.world, request())
        assert (await caller.get(attributes_path(activity_id))).json() == []
        foreign, _ = await new_activity(factory, other.world, request(keys=["promotions"]))
        for missing in (uuid.uuid4(), foreign):
            response = await caller.get(attributes_path(missing))
            assert response.status_code == 404
            assert response.json()["message"] == "Activity not found"
        assert (await caller.get(attributes_path("bad"))).status_code == 400
