"""The attribute half of the engine (management-api.md §11.2, §15.2–15.3): the set, the policy
of each key, caller values and fallbacks, and the built-in resolvers."""

from __future__ import annotations

from typing import Any

import pytest

from reten.commerces.models import Commerce
from reten.kit.db import Database
from reten.kit.time import utcnow
from tests.factories import Factory, World
from tests.resolution.support import (
    add_address,
    add_config,
    add_contact,
    add_user,
    attributes_of,
    new_activity,
    request,
    set_policy,
)


async def one(
    factory: Factory, world: World, key: str, item: dict[str, Any] | None = None, **req: Any
) -> tuple[Any, str | None]:
    """Create an activity asking for `key` (in attribute_keys, or as `item` in attributes[])."""
    if item is None:
        activity_id, detail = await new_activity(factory, world, request(keys=[key], **req))
    else:
        activity_id, detail = await new_activity(
            factory, world, request(attributes=[{"key": key, **item}], **req)
        )
    return (await attributes_of(factory.db, world, activity_id))[key], detail


class TestTheSet:
    async def test_one_record_per_key_of_the_union(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        activity_id, _ = await new_activity(
            factory,
            world,
            request(
                keys=["promotions", "commerce_info"],
                attributes=[{"key": "commerce_info", "value": 1}, {"key": "primary_contact"}],
            ),
        )
        records = await attributes_of(db, world, activity_id)
        assert list(records) == ["commerce_info", "primary_contact", "promotions"]
        # The entry of attributes[] (with its value) is the one used for a key in both lists.
        assert records["commerce_info"].value == 1
        assert records["commerce_info"].resolver_type == "CALLER_PROVIDED"

    async def test_no_keys_means_no_records_and_no_failure(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        activity_id, detail = await new_activity(factory, world, request())
        assert detail is None
        assert await attributes_of(db, world, activity_id) == {}

    async def test_without_a_policy_a_key_is_upfront_internal_service(
        self, factory: Factory
    ) -> None:
        world = await factory.world()
        record, detail = await one(factory, world, "commerce_info")
        assert detail is None
        assert record.resolution_strategy == "UPFRONT"
        assert record.resolver_type == "INTERNAL_SERVICE"
        assert record.resolution_status == "RESOLVED"

    async def test_another_tenants_policy_does_not_apply(self, factory: Factory) -> None:
        world = await factory.world()
        other = await factory.world()
        await set_policy(factory.db, other, "commerce_info", "ON_DISPATCH", "CLIENT_HOOK")
        record, _ = await one(factory, world, "commerce_info")
        assert (record.resolution_strategy, record.resolution_status) == ("UPFRONT", "RESOLVED")


# strategy, resolver, what is sent → status, resolverType, value, errorMessage
NO_HOOK = "CLIENT_HOOK has no endpoint configured"
MATRIX: list[tuple[str, str, dict[str, Any] | None, str, str, Any, str | None]] = [
    ("UPFRONT", "INTERNAL_SERVICE", None, "RESOLVED", "INTERNAL_SERVICE", "INFO", None),
    ("UPFRONT", "INTERNAL_SERVICE", {"fallback": "fb"}, "RESOLVED", "INTERNAL_SERVICE", "INFO", None),
    ("UPFRONT", "INTERNAL_SERVICE", {"value": {"x": 1}}, "RESOLVED", "CALLER_PROVIDED", {"x": 1}, None),
    ("UPFRONT", "CLIENT_HOOK", None, "FAILED", "CLIENT_HOOK", None, NO_HOOK),
    ("UPFRONT", "CLIENT_HOOK", {"fallback": "fb"}, "FALLBACK", "CLIENT_HOOK", "fb", NO_HOOK),
    ("UPFRONT", "CLIENT_HOOK", {"value": [1]}, "RESOLVED", "CALLER_PROVIDED", [1], None),
    ("ON_DISPATCH", "INTERNAL_SERVICE", None, "PENDING", "INTERNAL_SERVICE", None, None),
    ("ON_DISPATCH", "INTERNAL_SERVICE", {"fallback": "fb"}, "PENDING", "INTERNAL_SERVICE", None, None),
    ("ON_DISPATCH", "INTERNAL_SERVICE", {"value": "v"}, "RESOLVED", "CALLER_PROVIDED", "v", None),
    ("ON_DISPATCH", "CLIENT_HOOK", None, "PENDING", "CLIENT_HOOK", None, None),
    ("ON_DISPATCH", "CLIENT_HOOK", {"fallback": 0}, "PENDING", "CLIENT_HOOK", None, None),
    ("ON_DISPATCH", "CLIENT_HOOK", {"value": False}, "RESOLVED", "CALLER_PROVIDED", False, None),
    ("CALLER_PROVIDED", "CALLER_PROVIDED", None, "FAILED", "CALLER_PROVIDED", None, "value not provided"),
    ("CALLER_PROVIDED", "CALLER_PROVIDED", {"fallback": {"a": 2}}, "FALLBACK", "CALLER_PROVIDED", {"a": 2}, "value not provided"),
    ("CALLER_PROVIDED", "CALLER_PROVIDED", {"value": 7, "fallback": 8}, "RESOLVED", "CALLER_PROVIDED", 7, None),
]  # fmt: skip


class TestPolicies:
    @pytest.mark.parametrize(
        ("strategy", "resolver", "sent", "status", "resolver_type", "value", "error"), MATRIX
    )
    async def test_every_strategy_and_resolver(
        self,
        factory: Factory,
        db: Database,
        strategy: str,
        resolver: str,
        sent: dict[str, Any] | None,
        status: str,
        resolver_type: str,
        value: Any,
        error: str | None,
    ) -> None:
        world = await factory.world()
        await set_policy(db, world, "commerce_info", strategy, resolver)
        record, detail = await one(factory, world, "commerce_info", sent)
        if value == "INFO":
            value = {
                "name": "Almacén 1", "externalId": "COM-001", "taxId": None, "address": None,
            }  # fmt: skip
        assert record.resolution_strategy == strategy
        assert record.resolution_status == status
        assert record.resolver_type == resolver_type
        assert record.value == value
        assert record.error_message == error
        assert (record.resolved_at is not None) == (status in ("RESOLVED", "FALLBACK"))
        if status == "FAILED":
            assert detail == f"Could not resolve attribute commerce_info ({error})"
        else:
            assert detail is None
        assert record.has_fallback == (sent is not None and "fallback" in sent)

    async def test_the_policy_in_force_at_creation_is_kept(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await set_policy(db, world, "commerce_info", "ON_DISPATCH", "CLIENT_HOOK")
        first, _ = await one(factory, world, "commerce_info")
        await set_policy(db, world, "commerce_info", "UPFRONT", "INTERNAL_SERVICE")
        second, _ = await one(factory, world, "commerce_info")
        refreshed = await attributes_of(db, world, first.activity_id)
        assert refreshed["commerce_info"].resolution_strategy == "ON_DISPATCH"
        assert second.resolution_status == "RESOLVED"


class TestCallerValues:
    async def test_values_and_fallbacks_are_kept_verbatim(self, factory: Factory) -> None:
        world = await factory.world()
        value = {"camelKey": {"snake_key": [1, None, "x"]}, "n": 1.5}
        record, _ = await one(factory, world, "promotions", {"value": value})
        assert record.value == value
        await set_policy(factory.db, world, "promotions", "CALLER_PROVIDED", "CALLER_PROVIDED")
        fallback = {"someKey": True}
        record, detail = await one(factory, world, "promotions", {"fallback": fallback})
        assert (record.resolution_status, record.value, detail) == ("FALLBACK", fallback, None)

    async def test_a_null_value_is_a_value(self, factory: Factory) -> None:
        world = await factory.world()
        record, detail = await one(factory, world, "promotions", {"value": None})
        assert (record.resolution_status, record.resolver_type) == ("RESOLVED", "CALLER_PROVIDED")
        assert record.value is None and detail is None

    async def test_a_null_fallback_is_a_fallback(self, factory: Factory) -> None:
        world = await factory.world()
        record, detail = await one(factory, world, "promotions", {"fallback": None})
        assert (record.resolution_status, record.value, detail) == ("FALLBACK", None, None)
        assert record.has_fallback is True


class TestCommerceInfo:
    async def test_it_gives_the_commerce_and_its_active_primary_address(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        async with db.sessionmaker() as session:
            commerce = await session.get(Commerce, world.commerce_ids[0])
            assert commerce is not None
            commerce.tax_id = "12345678-9"
            await session.commit()
        await add_address(db, world, "Elsewhere 1", primary=False)
        await add_address(db, world, "123 Main St, Santiago")
        await add_address(db, world, "Other commerce", commerce_index=1)
        record, _ = await one(factory, world, "commerce_info")
        assert record.value == {
            "name": "Almacén 1",
            "externalId": "COM-001",
            "taxId": "12345678-9",
            "address": "123 Main St, Santiago",
        }
        assert record.error_message is None

    async def test_an_inactive_primary_address_is_not_given(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_address(db, world, "Closed 1", active=False)
        record, _ = await one(factory, world, "commerce_info")
        assert record.value["address"] is None


class TestPrimaryContact:
    async def test_the_target_users_first_primary_contact(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"], minute=0, name="Olga Owner")
        target = await add_user(db, world, ["FINANCE"], minute=1, name="Fina Finance Ruiz")
        await add_contact(db, world, owner, "EMAIL", "owner@x.cl")
        await add_contact(db, world, target, "WHATSAPP", "+56911111111")
        await add_contact(db, world, target, "PHONE", "+56922222222")
        await add_contact(db, world, target, "EMAIL", "old@x.cl", primary=False)
        await add_contact(db, world, target, "EMAIL", "gone@x.cl", active=False, minute=2)
        criteria = [{"type": "ROLE_MATCH", "config": {"role": "FINANCE"}}]
        record, detail = await one(factory, world, "primary_contact", criteria=criteria)
        assert detail is None
        assert record.value == {
            "commerceUserId": str(target),
            "name": "Fina Finance Ruiz",
            "type": "PHONE",
            "value": "+56922222222",
        }

    async def test_without_a_target_it_is_the_earliest_owners(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"], minute=0, active=False)
        owner = await add_user(db, world, ["OWNER"], minute=1, name="Olga")
        later = await add_user(db, world, ["OWNER"], minute=2)
        await add_contact(db, world, owner, "OTHER", "telegram:olga")
        await add_contact(db, world, later, "EMAIL", "later@x.cl")
        record, _ = await one(factory, world, "primary_contact")
        assert record.value == {
            "commerceUserId": str(owner), "name": "Olga", "type": "OTHER",
            "value": "telegram:olga",
        }  # fmt: skip

    async def test_a_failed_target_leaves_the_owner(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"])
        await add_contact(db, world, owner, "EMAIL", "owner@x.cl")
        await add_config(db, world, rep=False, owner=False)
        activity_id, detail = await new_activity(
            factory,
            world,
            request(criteria=[{"type": "LAST_CONTACTED_ALL_CHANNELS"}], keys=["primary_contact"]),
        )
        assert detail is not None and detail.startswith("Could not resolve target user")
        record = (await attributes_of(db, world, activity_id))["primary_contact"]
        assert record.resolution_status == "RESOLVED"
        assert record.value["commerceUserId"] == str(owner)
        assert record.value["value"] == "owner@x.cl"

    @pytest.mark.parametrize("case", ["no owner", "no contact", "only non-primary"])
    async def test_without_a_primary_contact_it_fails(
        self, factory: Factory, db: Database, case: str
    ) -> None:
        world = await factory.world()
        if case != "no owner":
            owner = await add_user(db, world, ["OWNER"])
            if case == "only non-primary":
                await add_contact(db, world, owner, "EMAIL", "o@x.cl", primary=False)
        record, detail = await one(factory, world, "primary_contact")
        assert (record.resolution_status, record.error_message) == (
            "FAILED",
            "no primary contact",
        )
        assert detail == "Could not resolve attribute primary_contact (no primary contact)"


class TestPromotions:
    async def test_it_fails_for_want_of_a_source(self, factory: Factory) -> None:
        world = await factory.world()
        record, detail = await one(factory, world, "promotions")
        assert (record.resolution_status, record.value) == ("FAILED", None)
        assert record.error_message == "no data source for promotions"
        assert record.resolved_at is None
        assert detail == "Could not resolve attribute promotions (no data source for promotions)"

    async def test_a_fallback_is_used(self, factory: Factory) -> None:
        world = await factory.world()
        before = utcnow()
        record, detail = await one(factory, world, "promotions", {"fallback": []})
        assert (record.resolution_status, record.value, detail) == ("FALLBACK", [], None)
        assert record.error_message == "no data source for promotions"
        assert record.resolved_at is not None and record.resolved_at >= before
