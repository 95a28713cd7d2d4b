"""Target resolution configs (management-api.md §13.8–13.11)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from reten.activity_config.models import TargetResolutionConfig, TargetResolutionCriteria
from reten.kit.db import Database
from reten.resolution import service as resolution
from tests.factories import Factory
from tests.operators.support import count_statements
from tests.resolution.support import Caller, add_user, admin, member, new_activity, request

PATH = "/api/activity-config/target-resolution"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
TAKEN = "priority already exists among active configs"


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


async def create(caller: Caller, **body: Any) -> dict[str, Any]:
    body.setdefault("resolution_strategy", "ON_CREATION")
    response = await caller.post(PATH, body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def stored_criteria(db: Database, config_id: str) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(TargetResolutionCriteria)
                .where(TargetResolutionCriteria.config_id == uuid.UUID(config_id))
            )
            or 0
        )


class TestCreate:
    async def test_defaults_and_shape(self, client: httpx.AsyncClient, factory: Factory) -> None:
        caller = await admin(client, factory)
        body = await create(caller)
        assert body["resolutionStrategy"] == "ON_CREATION"
        assert body["fallbackToCommerceRep"] is True
        assert body["fallbackToOwner"] is True
        assert body["priority"] == 0
        assert body["isActive"] is True
        assert body["criteria"] == []
        assert re.match(TIMESTAMP, body["createdAt"]) and re.match(TIMESTAMP, body["updatedAt"])
        assert set(body) == {
            "id", "resolutionStrategy", "fallbackToCommerceRep", "fallbackToOwner", "priority",
            "isActive", "criteria", "createdAt", "updatedAt",
        }  # fmt: skip

    async def test_criteria_get_index_priorities_and_are_returned_by_priority(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        body = await create(
            caller,
            resolution_strategy="ON_DISPATCH",
            fallback_to_commerce_rep=False,
            fallbackToOwner=False,
            priority=3,
            is_active=False,
            criteria=[
                {"type": "ROLE_MATCH", "config": {"role": "FINANCE"}, "priority": 7},
                {"type": "LAST_CONTACTED_SAME_CHANNEL"},
                {"type": "LAST_CONTACTED_ALL_CHANNELS", "config": {}},
            ],
        )
        assert body["resolutionStrategy"] == "ON_DISPATCH"
        assert body["fallbackToCommerceRep"] is False
        assert body["fallbackToOwner"] is False
        assert (body["priority"], body["isActive"]) == (3, False)
        assert [
            (c["criteriaType"], c["criteriaConfig"], c["priority"]) for c in body["criteria"]
        ] == [
            ("LAST_CONTACTED_SAME_CHANNEL", {}, 1),
            ("LAST_CONTACTED_ALL_CHANNELS", {}, 2),
            ("ROLE_MATCH", {"role": "FINANCE"}, 7),
        ]
        assert all(
            set(c) == {"id", "criteriaType", "criteriaConfig", "priority"} for c in body["criteria"]
        )

    async def test_a_taken_priority_among_active_configs_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        await create(caller, priority=1)
        response = await caller.post(PATH, {"resolution_strategy": "MANUAL", "priority": 1})
        assert response.status_code == 409
        assert response.json()["message"] == TAKEN
        listed = (await caller.get(PATH)).json()
        assert len(listed) == 1

    async def test_an_inactive_config_may_share_a_priority(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        await create(caller, priority=1)
        await create(caller, priority=1, is_active=False)
        await create(caller, priority=1, is_active=False)
        assert len((await caller.get(PATH)).json()) == 3

    async def test_priorities_are_per_tenant(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        first = await admin(client, factory)
        second = await admin(client, factory)
        await create(first, priority=0)
        await create(second, priority=0)

    async def test_concurrent_creates_with_one_priority_give_one_201_and_one_409(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        responses = await asyncio.gather(
            *(
                caller.post(PATH, {"resolution_strategy": "ON_CREATION", "priority": 4})
                for _ in range(2)
            )
        )
        assert sorted(r.status_code for r in responses) == [201, 409]
        async with db.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(TargetResolutionConfig)
                .where(TargetResolutionConfig.tenant_id == caller.world.tenant_id)
            )
        assert count == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "resolution_strategy"),
            ({"resolution_strategy": "LATER"}, "resolution_strategy"),
            ({"resolution_strategy": None}, "resolution_strategy"),
            ({"fallback_to_owner": None}, "fallback_to_owner"),
            ({"fallback_to_owner": "yes"}, "fallback_to_owner"),
            ({"fallbackToCommerceRep": 1}, "fallbackToCommerceRep"),
            ({"priority": -1}, "priority"),
            ({"priority": 2**31}, "priority"),
            ({"priority": 1.5}, "priority"),
            ({"priority": None}, "priority"),
            ({"is_active": None}, "is_active"),
            ({"criteria": None}, "criteria"),
            ({"criteria": {}}, "criteria"),
            ({"criteria": [{"type": "LAST_CONTACTED_SAME_CHANNEL"}] * 11}, "criteria"),
            ({"criteria": [{"type": "NEAREST"}]}, "criteria[0].type"),
            ({"criteria": [{"type": "ROLE_MATCH"}]}, "criteria[0]"),
            ({"criteria": [{"type": "ROLE_MATCH", "config": {"role": "BOSS"}}]}, "criteria[0]"),
            ({"criteria": [{"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": -1}]}, "criteria[0].priority"),
            ({"criteria": [{"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 2**31}]}, "criteria[0].priority"),
            (
                {"criteria": [
                    {"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 1},
                    {"type": "LAST_CONTACTED_ALL_CHANNELS"},
                ]},
                "criteria",
            ),
        ],
    )  # fmt: skip
    async def test_bad_bodies_are_400_naming_the_field(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, Any], field: str
    ) -> None:
        caller = await admin(client, factory)
        full = {"resolution_strategy": "ON_CREATION", **body}
        if body == {}:
            full = {}
        response = await caller.post(PATH, full)
        assert response.status_code == 400, response.text
        assert field in fields(response), response.text
        assert (await caller.get(PATH)).json() == []

    async def test_the_field_is_named_in_the_callers_spelling(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        response = await caller.post(PATH, {"resolutionStrategy": "NEVER"})
        assert response.status_code == 400
        assert fields(response) == ["resolutionStrategy"]

    async def test_ten_criteria_are_allowed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        body = await create(caller, criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL"}] * 10)
        assert [c["priority"] for c in body["criteria"]] == list(range(10))

    async def test_an_fde_may_not_create_configs(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        fde = await member(client, factory, caller.world, "FDE")
        response = await fde.post(PATH, {"resolution_strategy": "ON_CREATION"})
        assert response.status_code == 403


class TestList:
    async def test_ordered_by_priority_then_creation_with_inactive_ones(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        a = await create(caller, priority=5)
        b = await create(caller, priority=1, is_active=False)
        c = await create(caller, priority=1)
        d = await create(caller, priority=0, is_active=False)
        viewer = await member(client, factory, caller.world, "VIEWER")
        response = await viewer.get(PATH)
        assert response.status_code == 200
        assert [x["id"] for x in response.json()] == [d["id"], b["id"], c["id"], a["id"]]

    async def test_other_tenants_configs_are_not_listed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        first = await admin(client, factory)
        second = await admin(client, factory)
        mine = await create(first, criteria=[{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}])
        assert (await second.get(PATH)).json() == []
        assert [x["id"] for x in (await first.get(PATH)).json()] == [mine["id"]]

    async def test_the_number_of_statements_does_not_grow_with_the_configs(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        small = await admin(client, factory)
        large = await admin(client, factory)
        await create(small, criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL"}])
        for i in range(6):
            await create(large, priority=i, criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL"}] * 3)
        counts = []
        for caller in (small, large):
            with count_statements(db) as seen:
                response = await caller.get(PATH)
            assert response.status_code == 200
            counts.append(len(seen))
        assert len((await large.get(PATH)).json()) == 6
        assert counts[0] == counts[1]


class TestUpdate:
    async def test_given_fields_change_and_the_rest_stays(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        config = await create(
            caller, priority=2, criteria=[{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}]
        )
        response = await caller.patch(
            f"{PATH}/{config['id']}",
            {"resolutionStrategy": "MANUAL", "fallback_to_owner": False, "unknown": 1},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["resolutionStrategy"] == "MANUAL"
        assert body["fallbackToOwner"] is False
        assert body["fallbackToCommerceRep"] is True
        assert body["priority"] == 2
        assert body["criteria"] == config["criteria"]
        assert body["createdAt"] == config["createdAt"]

    async def test_a_criteria_list_replaces_the_old_one_with_new_ids(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        config = await create(
            caller,
            criteria=[
                {"type": "ROLE_MATCH", "config": {"role": "OWNER"}},
                {"type": "LAST_CONTACTED_SAME_CHANNEL"},
            ],
        )
        response = await caller.patch(
            f"{PATH}/{config['id']}",
            {"criteria": [{"type": "LAST_CONTACTED_ALL_CHANNELS", "priority": 9}]},
        )
        assert response.status_code == 200, response.text
        criteria = response.json()["criteria"]
        assert [(c["criteriaType"], c["priority"]) for c in criteria] == [
            ("LAST_CONTACTED_ALL_CHANNELS", 9)
        ]
        assert criteria[0]["id"] not in {c["id"] for c in config["criteria"]}
        assert await stored_criteria(db, config["id"]) == 1
        assert response.json()["updatedAt"] >= config["updatedAt"]
        cleared = await caller.patch(f"{PATH}/{config['id']}", {"criteria": []})
        assert cleared.json()["criteria"] == []
        assert await stored_criteria(db, config["id"]) == 0

    async def test_moving_onto_a_taken_priority_is_409_and_changes_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        await create(caller, priority=0)
        config = await create(
            caller, priority=1, criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL"}]
        )
        response = await caller.patch(
            f"{PATH}/{config['id']}",
            {"priority": 0, "resolution_strategy": "MANUAL", "criteria": []},
        )
        assert response.status_code == 409
        assert response.json()["message"] == TAKEN
        (stored,) = [c for c in (await caller.get(PATH)).json() if c["id"] == config["id"]]
        assert stored["priority"] == 1
        assert stored["resolutionStrategy"] == "ON_CREATION"
        assert len(stored["criteria"]) == 1

    async def test_activating_into_a_taken_priority_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        await create(caller, priority=0)
        idle = await create(caller, priority=0, is_active=False)
        response = await caller.patch(f"{PATH}/{idle['id']}", {"is_active": True})
        assert response.status_code == 409
        assert response.json()["message"] == TAKEN
        both = await caller.patch(f"{PATH}/{idle['id']}", {"is_active": True, "priority": 1})
        assert both.status_code == 200, both.text
        assert both.json()["isActive"] is True

    async def test_deactivating_frees_the_priority(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        first = await create(caller, priority=0)
        response = await caller.patch(f"{PATH}/{first['id']}", {"is_active": False})
        assert response.status_code == 200
        await create(caller, priority=0)

    async def test_an_empty_body_changes_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        config = await create(caller, priority=3)
        response = await caller.patch(f"{PATH}/{config['id']}", {})
        assert response.status_code == 200
        assert response.json() == config

    @pytest.mark.parametrize(
        "body",
        [
            {"priority": None},
            {"is_active": None},
            {"criteria": None},
            {"resolution_strategy": None},
            {"fallback_to_commerce_rep": None},
            {"priority": -3},
            {"criteria": [{"type": "ROLE_MATCH", "config": {}}]},
        ],
    )
    async def test_bad_values_are_400(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, Any]
    ) -> None:
        caller = await admin(client, factory)
        config = await create(caller)
        response = await caller.patch(f"{PATH}/{config['id']}", body)
        assert response.status_code == 400, response.text

    async def test_unknown_malformed_and_foreign_ids(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        foreign = await create(other)
        unknown = await caller.patch(f"{PATH}/{uuid.uuid4()}", {"priority": 1})
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Target resolution config not found"
        assert (await caller.patch(f"{PATH}/{foreign['id']}", {"priority": 1})).status_code == 404
        malformed = await caller.patch(f"{PATH}/nope", {"priority": 1})
        assert malformed.status_code == 400
        assert fields(malformed) == ["id"]
        assert (await other.get(PATH)).json()[0]["priority"] == 0

    async def test_existing_target_users_are_unaffected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        config = await create(caller, resolution_strategy="MANUAL")
        activity_id, _ = await new_activity(factory, caller.world, request())
        await caller.patch(f"{PATH}/{config['id']}", {"resolution_strategy": "ON_CREATION"})
        (target,) = (await caller.get(f"/api/activities/{activity_id}/target-users")).json()
        assert (target["resolutionStrategy"], target["resolutionStatus"]) == ("MANUAL", "PENDING")


class TestDelete:
    async def test_delete_removes_the_config_and_its_criteria(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        config = await create(caller, criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL"}])
        response = await caller.delete(f"{PATH}/{config['id']}")
        assert response.status_code == 204
        assert response.content == b""
        assert (await caller.get(PATH)).json() == []
        assert await stored_criteria(db, config["id"]) == 0
        again = await caller.delete(f"{PATH}/{config['id']}")
        assert again.status_code == 404
        await create(caller, priority=0)

    async def test_another_tenants_config_is_404_and_survives(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        foreign = await create(other)
        assert (await caller.delete(f"{PATH}/{foreign['id']}")).status_code == 404
        assert len((await other.get(PATH)).json()) == 1

    async def test_existing_target_users_keep_their_outcome(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        owner = await add_user(db, caller.world, ["OWNER"])
        config = await create(caller)
        activity_id, detail = await new_activity(factory, caller.world, request())
        assert detail is None
        assert (await caller.delete(f"{PATH}/{config['id']}")).status_code == 204
        async with db.sessionmaker() as session:
            (view,) = await resolution.target_users(session, caller.world.tenant_id, activity_id)
        assert view.target.commerce_user_id == owner
        assert view.target.resolution_status == "RESOLVED"

    async def test_an_fde_may_not_delete(self, client: httpx.AsyncClient, factory: Factory) -> None:
        caller = await admin(client, factory)
        config = await create(caller)
        fde = await member(client, factory, caller.world, "FDE")
        assert (await fde.delete(f"{PATH}/{config['id']}")).status_code == 403
