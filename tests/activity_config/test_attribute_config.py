"""Attribute keys and policies (management-api.md §13.5–13.7)."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from reten.activity_config.models import AttributeKey, AttributePolicy
from reten.kit.db import Database
from tests.factories import Factory
from tests.resolution.support import Caller, admin, member

KEYS = "/api/activity-config/attribute-keys"
POLICIES = "/api/activity-config/attribute-policies"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


async def key_ids(caller: Caller) -> dict[str, str]:
    response = await caller.get(KEYS)
    assert response.status_code == 200, response.text
    return {k["key"]: k["id"] for k in response.json()}


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


class TestAttributeKeys:
    async def test_the_seeded_catalog_is_listed_by_key_with_its_labels(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        response = await caller.get(KEYS)
        assert response.status_code == 200
        body = response.json()
        assert [k["key"] for k in body] == sorted(k["key"] for k in body)
        by_key = {k["key"]: k for k in body}
        assert by_key["commerce_info"]["label"] == "Commerce Info"
        assert by_key["commerce_info"]["description"] == "Commerce data for activity context"
        assert by_key["promotions"]["label"] == "Promotions"
        assert by_key["promotions"]["description"] == "Active promotions for the commerce"
        assert "primary_contact" in by_key
        assert set(by_key["promotions"]) == {"id", "key", "label", "description"}
        uuid.UUID(by_key["promotions"]["id"])

    async def test_a_viewer_may_read_the_catalog(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        viewer = await member(client, factory, caller.world, "VIEWER")
        assert (await viewer.get(KEYS)).status_code == 200

    async def test_without_credentials_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get(KEYS)).status_code == 401


class TestPolicyUpsert:
    async def test_creating_a_policy_returns_both_strategy_names(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES,
            {
                "attribute_key_id": ids["promotions"],
                "strategy": "ON_DISPATCH",
                "resolver_type": "CLIENT_HOOK",
                "hook_url": "https://hooks.example.test/promotions",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["attributeKeyId"] == ids["promotions"]
        assert body["strategy"] == body["resolutionStrategy"] == "ON_DISPATCH"
        assert body["resolverType"] == "CLIENT_HOOK"
        assert body["attributeKey"] == {"key": "promotions", "label": "Promotions"}
        assert set(body) == {
            "id", "attributeKeyId", "strategy", "resolutionStrategy", "resolverType",
            "hookUrl", "hookTimeoutMs", "attributeKey", "createdAt", "updatedAt",
        }  # fmt: skip
        assert body["hookUrl"] == "https://hooks.example.test/promotions"
        assert body["hookTimeoutMs"] == 3000
        assert re.match(TIMESTAMP, body["createdAt"]) and re.match(TIMESTAMP, body["updatedAt"])

    async def test_a_second_post_for_the_key_updates_the_same_policy(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        first = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["commerce_info"], "strategy": "UPFRONT",
             "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        second = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["commerce_info"], "resolution_strategy": "CALLER_PROVIDED",
             "resolver_type": "CALLER_PROVIDED"},
        )  # fmt: skip
        assert first.status_code == second.status_code == 200
        assert second.json()["id"] == first.json()["id"]
        assert second.json()["strategy"] == "CALLER_PROVIDED"
        async with db.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AttributePolicy)
                .where(AttributePolicy.tenant_id == caller.world.tenant_id)
            )
        assert count == 1

    async def test_camel_case_body_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES,
            {"attributeKeyId": ids["promotions"], "resolutionStrategy": "UPFRONT",
             "resolverType": "INTERNAL_SERVICE"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json()["resolutionStrategy"] == "UPFRONT"

    async def test_both_names_with_the_same_value_are_fine(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["promotions"], "strategy": "UPFRONT",
             "resolution_strategy": "UPFRONT", "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        assert response.status_code == 200, response.text

    async def test_both_names_with_different_values_are_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["promotions"], "strategy": "UPFRONT",
             "resolutionStrategy": "ON_DISPATCH", "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        assert response.status_code == 400
        assert fields(response) == ["resolutionStrategy"]

    async def test_a_missing_strategy_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES, {"attribute_key_id": ids["promotions"], "resolver_type": "INTERNAL_SERVICE"}
        )
        assert response.status_code == 400
        assert fields(response) == ["strategy"]

    @pytest.mark.parametrize(
        ("strategy", "resolver"),
        [
            ("CALLER_PROVIDED", "INTERNAL_SERVICE"),
            ("CALLER_PROVIDED", "CLIENT_HOOK"),
            ("UPFRONT", "CALLER_PROVIDED"),
            ("ON_DISPATCH", "CALLER_PROVIDED"),
        ],
    )
    async def test_caller_provided_resolver_iff_caller_provided_strategy(
        self, client: httpx.AsyncClient, factory: Factory, strategy: str, resolver: str
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["promotions"], "strategy": strategy,
             "resolverType": resolver},
        )  # fmt: skip
        assert response.status_code == 400
        assert fields(response) == ["resolverType"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"strategy": None, "resolver_type": "INTERNAL_SERVICE"}, "strategy"),
            ({"strategy": "UPFRONT", "resolver_type": None}, "resolver_type"),
            ({"strategy": "SOMETIMES", "resolver_type": "INTERNAL_SERVICE"}, "strategy"),
            ({"strategy": "UPFRONT", "resolver_type": "HOOK"}, "resolver_type"),
            ({"strategy": "UPFRONT"}, "resolver_type"),
        ],
    )
    async def test_bad_field_values_are_400_naming_the_field(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, object], field: str
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        response = await caller.post(POLICIES, {"attribute_key_id": ids["promotions"], **body})
        assert response.status_code == 400
        assert field in fields(response)

    async def test_a_malformed_or_missing_key_id_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        bad = await caller.post(
            POLICIES,
            {
                "attribute_key_id": "nope",
                "strategy": "UPFRONT",
                "resolver_type": "INTERNAL_SERVICE",
            },
        )
        missing = await caller.post(
            POLICIES, {"strategy": "UPFRONT", "resolver_type": "INTERNAL_SERVICE"}
        )
        assert bad.status_code == missing.status_code == 400
        assert fields(bad) == fields(missing) == ["attribute_key_id"]

    async def test_an_unknown_key_is_404(self, client: httpx.AsyncClient, factory: Factory) -> None:
        caller = await admin(client, factory)
        response = await caller.post(
            POLICIES,
            {"attribute_key_id": str(uuid.uuid4()), "strategy": "UPFRONT",
             "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        assert response.status_code == 404
        assert response.json()["message"] == "Attribute key not found"

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient, factory: Factory) -> None:
        caller = await admin(client, factory)
        response = await client.post(
            POLICIES, content=b"[1]", headers={**caller.headers, "content-type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Malformed JSON body"

    async def test_an_fde_may_not_write_policies(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        fde = await member(client, factory, caller.world, "FDE")
        ids = await key_ids(caller)
        response = await fde.post(
            POLICIES,
            {"attribute_key_id": ids["promotions"], "strategy": "UPFRONT",
             "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        assert response.status_code == 403
        assert response.json()["message"] == (
            "Insufficient permissions: requires MANAGE_ACTIVITY_CONFIG"
        )

    async def test_concurrent_upserts_of_one_key_leave_one_policy(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        ids = await key_ids(caller)
        responses = await asyncio.gather(
            *(
                caller.post(
                    POLICIES,
                    {
                        "attribute_key_id": ids["promotions"],
                        "strategy": strategy,
                        "resolver_type": "INTERNAL_SERVICE",
                    },
                )
                for strategy in ("UPFRONT", "ON_DISPATCH", "UPFRONT", "ON_DISPATCH")
            )
        )
        assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        async with db.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AttributePolicy)
                .where(AttributePolicy.tenant_id == caller.world.tenant_id)
            )
        assert count == 1


class TestPolicyList:
    async def test_policies_are_listed_by_key_and_only_the_tenants_own(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await admin(client, factory)
        other = await admin(client, factory)
        assert (await caller.get(POLICIES)).json() == []
        ids = await key_ids(caller)
        for key in ("promotions", "commerce_info"):
            response = await caller.post(
                POLICIES,
                {"attribute_key_id": ids[key], "strategy": "UPFRONT",
                 "resolver_type": "INTERNAL_SERVICE"},
            )  # fmt: skip
            assert response.status_code == 200
        await other.post(
            POLICIES,
            {"attribute_key_id": ids["primary_contact"], "strategy": "UPFRONT",
             "resolver_type": "INTERNAL_SERVICE"},
        )  # fmt: skip
        listed = (await caller.get(POLICIES)).json()
        assert [p["attributeKey"]["key"] for p in listed] == ["commerce_info", "promotions"]
        assert [p["attributeKey"]["key"] for p in (await other.get(POLICIES)).json()] == [
            "primary_contact"
        ]
        async with db.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(AttributeKey)) == len(ids)

    async def test_a_viewer_may_list_policies(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        viewer = await member(client, factory, caller.world, "VIEWER")
        assert (await viewer.get(POLICIES)).status_code == 200
