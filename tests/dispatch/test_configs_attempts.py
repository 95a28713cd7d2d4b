"""The attempt log: a config's attempts (§14.14) and an activity's attempts (§11.14).

Attempt rows are written straight to the table here; the engine that writes them in real life is
tested on its own.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from reten.auth.permissions import Permission
from reten.kit.time import iso, utcnow
from tests.dispatch.makers import CONFIGS, add_attempt, admin, create_config, member
from tests.factories import Factory

ATTEMPT_KEYS = {
    "id", "activityId", "dispatchConfigId", "attemptNumber", "trigger", "outcome", "httpStatus",
    "durationMs", "error", "responseExcerpt", "requestId", "createdAt",
}  # fmt: skip


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


class TestConfigAttempts:
    async def test_newest_first_with_the_delivery_attempt_shape(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "WEBHOOK")
        activity = await factory.task(caller.world)
        base = utcnow() - timedelta(hours=1)
        first = await add_attempt(
            caller.db, caller.world, activity, config["id"], number=1, at=base,
            outcome="FAILURE", http_status=503, error="HTTP 503",
            excerpt="upstream unavailable", request_id="msg_abc",
        )  # fmt: skip
        second = await add_attempt(
            caller.db, caller.world, activity, config["id"], number=2,
            at=base + timedelta(seconds=30), request_id="msg_abc",
        )  # fmt: skip
        response = await caller.get(f"{CONFIGS}/{config['id']}/attempts")
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["meta"] == {"page": 1, "limit": 25, "total": 2, "totalPages": 1}
        assert [a["id"] for a in page["data"]] == [str(second), str(first)]
        assert all(set(a) == ATTEMPT_KEYS for a in page["data"])
        assert page["data"][1] == {
            "id": str(first),
            "activityId": str(activity),
            "dispatchConfigId": config["id"],
            "attemptNumber": 1,
            "trigger": "SCHEDULED",
            "outcome": "FAILURE",
            "httpStatus": 503,
            "durationMs": 41,
            "error": "HTTP 503",
            "responseExcerpt": "upstream unavailable",
            "requestId": "msg_abc",
            "createdAt": iso(base),
        }

    async def test_filters_and_pages(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "YOM")
        other_config = await create_config(caller, "MOCK", channel="SMS")
        one = await factory.task(caller.world)
        two = await factory.task(caller.world)
        base = utcnow() - timedelta(hours=2)
        ids = {}
        for minute, (activity, outcome, trigger) in enumerate(
            [
                (one, "FAILURE", "SCHEDULED"),
                (one, "SUCCESS", "SCHEDULED"),
                (two, "SUCCESS", "MANUAL"),
                (one, "SUCCESS", "RESEND"),
                (two, "FAILURE", "SCHEDULED"),
            ]
        ):
            ids[minute] = str(
                await add_attempt(
                    caller.db,
                    caller.world,
                    activity,
                    config["id"],
                    number=minute + 1,
                    at=base + timedelta(minutes=minute),
                    outcome=outcome,
                    trigger=trigger,
                )
            )
        await add_attempt(caller.db, caller.world, one, other_config["id"], number=9)
        path = f"{CONFIGS}/{config['id']}/attempts"

        async def listed(**params: str) -> list[str]:
            response = await caller.get(path, **params)
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()["data"]]

        assert await listed() == [ids[4], ids[3], ids[2], ids[1], ids[0]]
        assert await listed(activity_id=str(one)) == [ids[3], ids[1], ids[0]]
        assert await listed(outcome="FAILURE") == [ids[4], ids[0]]
        assert await listed(trigger="RESEND") == [ids[3]]
        assert await listed(activity_id=str(two), outcome="SUCCESS", trigger="MANUAL") == [ids[2]]
        assert await listed(activity_id=str(uuid.uuid4())) == []
        page = (await caller.get(path, per_page="2", page="2")).json()
        assert [a["id"] for a in page["data"]] == [ids[2], ids[1]]
        assert page["meta"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
        assert (await caller.get(path, limit="4")).json()["meta"]["limit"] == 4
        beyond = (await caller.get(path, page="9")).json()
        assert beyond["data"] == [] and beyond["meta"]["total"] == 5

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"activity_id": "x"}, "activity_id"),
            ({"outcome": "success"}, "outcome"),
            ({"outcome": "MAYBE"}, "outcome"),
            ({"trigger": "AUTO"}, "trigger"),
            ({"per_page": "101"}, "per_page"),
            ({"page": "0"}, "page"),
        ],
    )
    async def test_bad_query_parameters_are_400(
        self, factory: Factory, params: dict[str, str], field: str
    ) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "MOCK")
        response = await caller.get(f"{CONFIGS}/{config['id']}/attempts", **params)
        assert response.status_code == 400
        assert fields(response) == [field]

    async def test_a_deleted_configs_log_is_still_served(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "YOM")
        attempt = await add_attempt(
            caller.db, caller.world, await factory.task(caller.world), config["id"]
        )
        assert (await caller.delete(f"{CONFIGS}/{config['id']}")).status_code == 204
        response = await caller.get(f"{CONFIGS}/{config['id']}/attempts")
        assert response.status_code == 200
        assert [a["id"] for a in response.json()["data"]] == [str(attempt)]

    async def test_unknown_or_foreign_config_is_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.get(f"{CONFIGS}/{uuid.uuid4()}/attempts")
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch config not found"
        owner = await admin(factory)
        config = await create_config(owner, "YOM")
        await add_attempt(owner.db, owner.world, await factory.task(owner.world), config["id"])
        response = await caller.get(f"{CONFIGS}/{config['id']}/attempts")
        assert response.status_code == 404

    async def test_a_viewer_may_read_the_log(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "MOCK")
        viewer = await member(factory, caller.world, "VIEWER")
        assert (await viewer.get(f"{CONFIGS}/{config['id']}/attempts")).status_code == 200


class TestActivityAttempts:
    async def test_attempts_across_configs_newest_first(self, factory: Factory) -> None:
        caller = await admin(factory)
        old = await create_config(caller, "YOM")
        await caller.post(f"{CONFIGS}/{old['id']}/deactivate")
        new = await create_config(caller, "WEBHOOK")
        activity = await factory.task(caller.world)
        other_activity = await factory.task(caller.world)
        base = utcnow() - timedelta(hours=1)
        first = await add_attempt(
            caller.db, caller.world, activity, old["id"], number=1, at=base, outcome="FAILURE"
        )
        second = await add_attempt(
            caller.db, caller.world, activity, new["id"], number=2, at=base + timedelta(minutes=1)
        )
        third = await add_attempt(
            caller.db, caller.world, activity, new["id"], number=3,
            at=base + timedelta(minutes=2), trigger="RESEND",
        )  # fmt: skip
        await add_attempt(caller.db, caller.world, other_activity, new["id"])
        response = await caller.get(f"/api/activities/{activity}/attempts")
        assert response.status_code == 200, response.text
        body = response.json()
        assert [a["id"] for a in body] == [str(third), str(second), str(first)]
        assert [a["dispatchConfigId"] for a in body] == [new["id"], new["id"], old["id"]]
        assert [a["attemptNumber"] for a in body] == [3, 2, 1]
        assert all(set(a) == ATTEMPT_KEYS for a in body)

    async def test_same_instant_attempts_keep_their_sequence(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "MOCK")
        activity = await factory.task(caller.world)
        at = utcnow() - timedelta(minutes=5)
        for number in (1, 2, 3):
            await add_attempt(caller.db, caller.world, activity, config["id"], number=number, at=at)
        body = (await caller.get(f"/api/activities/{activity}/attempts")).json()
        assert [a["attemptNumber"] for a in body] == [3, 2, 1]

    async def test_an_activity_without_attempts_has_an_empty_log(self, factory: Factory) -> None:
        caller = await admin(factory)
        activity = await factory.task(caller.world)
        response = await caller.get(f"/api/activities/{activity}/attempts")
        assert response.status_code == 200
        assert response.json() == []

    async def test_a_deleted_configs_attempts_stay_in_the_activity_log(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "YOM")
        activity = await factory.task(caller.world)
        attempt = await add_attempt(caller.db, caller.world, activity, config["id"])
        await caller.delete(f"{CONFIGS}/{config['id']}")
        body = (await caller.get(f"/api/activities/{activity}/attempts")).json()
        assert [a["id"] for a in body] == [str(attempt)]

    async def test_unknown_foreign_and_malformed_activities(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.get(f"/api/activities/{uuid.uuid4()}/attempts")
        assert response.status_code == 404
        assert response.json()["message"] == "Activity not found"
        owner = await admin(factory)
        config = await create_config(owner, "YOM")
        foreign = await factory.task(owner.world)
        await add_attempt(owner.db, owner.world, foreign, config["id"])
        response = await caller.get(f"/api/activities/{foreign}/attempts")
        assert response.status_code == 404
        assert response.json()["message"] == "Activity not found"
        response = await caller.get("/api/activities/abc/attempts")
        assert response.status_code == 400
        assert fields(response) == ["id"]

    async def test_needs_view_activities(self, factory: Factory) -> None:
        caller = await admin(factory)
        activity = await factory.task(caller.world)
        key = await factory.api_key(caller.world, [Permission.SUBMIT_ACTIVITY_RESULT])
        response = await caller.client.get(
            f"/api/activities/{activity}/attempts", headers={"x-api-key": key}
        )
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires VIEW_ACTIVITIES"
