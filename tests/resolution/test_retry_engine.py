"""Re-running resolution: `retry` (11.8's engine), `resolve_for_dispatch` and
`lock_target_user` (the dispatcher's entry points)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Activity
from reten.activity_config.models import TargetResolutionConfig
from reten.commerces.models import CommerceUser
from reten.kit.db import Database
from reten.resolution import service as resolution
from tests.factories import Factory
from tests.resolution.support import (
    add_config,
    add_contact,
    add_user,
    attributes_of,
    new_activity,
    request,
    set_policy,
    target_of,
)

OWNER = [{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}]


async def run(
    db: Database,
    activity_id: uuid.UUID,
    engine: Callable[..., Awaitable[str | None]] = resolution.retry,
) -> str | None:
    async with db.sessionmaker() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        detail = await engine(session, activity)
        await session.commit()
        return detail


class TestRetryTarget:
    async def test_a_failed_target_is_resolved_once_a_user_exists(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        activity_id, detail = await new_activity(factory, world, request(criteria=OWNER))
        assert detail is not None
        assert await run(db, activity_id) == detail  # still nobody
        owner = await add_user(db, world, ["OWNER"])
        assert await run(db, activity_id) is None
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert (target.resolution_status, target.commerce_user_id) == ("RESOLVED", owner)
        assert (target.lock_reason, target.error_message) == ("CRITERIA_MATCH", None)
        assert target.resolved_at is not None

    async def test_a_resolved_target_is_left_alone(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        first = await add_user(db, world, ["OWNER"], minute=5)
        activity_id, _ = await new_activity(factory, world, request(criteria=OWNER))
        before = await target_of(db, world, activity_id)
        await add_user(db, world, ["OWNER"], minute=0)  # now an earlier owner exists
        assert await run(db, activity_id) is None
        after = await target_of(db, world, activity_id)
        assert before is not None and after is not None
        assert after.commerce_user_id == first
        assert after.resolved_at == before.resolved_at

    async def test_pending_on_dispatch_and_manual_targets_are_not_run(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"])
        config = await add_config(db, world, strategy="ON_DISPATCH")
        dispatch_id, _ = await new_activity(factory, world, request())
        async with db.sessionmaker() as session:
            stored = await session.get(TargetResolutionConfig, config)
            assert stored is not None
            stored.resolution_strategy = "MANUAL"
            await session.commit()
        manual_id, _ = await new_activity(factory, world, request())
        for activity_id, strategy in ((dispatch_id, "ON_DISPATCH"), (manual_id, "MANUAL")):
            assert await run(db, activity_id) is None
            target = await target_of(db, world, activity_id)
            assert target is not None
            assert (target.resolution_strategy, target.resolution_status) == (strategy, "PENDING")

    async def test_retry_uses_the_current_configs_and_the_requests_criteria(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        config = await add_config(db, world, rep=False, owner=False)
        finance = [{"type": "ROLE_MATCH", "config": {"role": "FINANCE"}}]
        activity_id, detail = await new_activity(factory, world, request(criteria=finance))
        assert detail is not None
        owner = await add_user(db, world, ["OWNER"])
        assert await run(db, activity_id) is not None  # the config still has no fallback
        async with db.sessionmaker() as session:
            stored = await session.get(TargetResolutionConfig, config)
            assert stored is not None
            stored.fallback_to_owner = True
            await session.commit()
        assert await run(db, activity_id) is None
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert (target.commerce_user_id, target.lock_reason) == (owner, "FALLBACK_OWNER")

    async def test_with_no_config_left_both_fallbacks_apply(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        config = await add_config(db, world, rep=False, owner=False)
        activity_id, detail = await new_activity(factory, world, request())
        assert detail is not None
        rep = await add_user(db, world, ["COMMERCE_REP"])
        async with db.sessionmaker() as session:
            stored = await session.get(TargetResolutionConfig, config)
            await session.delete(stored)
            await session.commit()
        assert await run(db, activity_id) is None
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert (target.commerce_user_id, target.lock_reason) == (rep, "FALLBACK_COMMERCE_REP")


class TestRetryAttributes:
    async def test_a_failed_attribute_is_rerun(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"])
        activity_id, detail = await new_activity(factory, world, request(keys=["primary_contact"]))
        assert detail == "Could not resolve attribute primary_contact (no primary contact)"
        await add_contact(db, world, owner, "EMAIL", "o@x.cl")
        assert await run(db, activity_id) is None
        record = (await attributes_of(db, world, activity_id))["primary_contact"]
        assert record.resolution_status == "RESOLVED"
        assert record.value["value"] == "o@x.cl"
        assert record.error_message is None and record.resolved_at is not None

    async def test_a_kept_fallback_is_used_on_retry(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        activity_id, detail = await new_activity(factory, world, request(keys=["promotions"]))
        assert detail is not None
        async with db.sessionmaker() as session:
            rows = await resolution.attributes(session, world.tenant_id, activity_id)
            record = rows[0][0]
            record.has_fallback, record.fallback = True, {"kept": 1}
            session.add(record)
            await session.commit()
        assert await run(db, activity_id) is None
        record = (await attributes_of(db, world, activity_id))["promotions"]
        assert (record.resolution_status, record.value) == ("FALLBACK", {"kept": 1})

    async def test_resolved_fallback_and_pending_on_dispatch_attributes_are_left_alone(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await set_policy(db, world, "commerce_info", "ON_DISPATCH", "INTERNAL_SERVICE")
        activity_id, detail = await new_activity(
            factory,
            world,
            request(
                keys=["commerce_info", "primary_contact"],
                attributes=[{"key": "promotions", "fallback": "none"}],
            ),
        )
        assert detail is not None  # primary_contact: no owner
        before = await attributes_of(db, world, activity_id)
        assert await run(db, activity_id) == detail
        after = await attributes_of(db, world, activity_id)
        assert after["commerce_info"].resolution_status == "PENDING"
        assert after["promotions"].resolution_status == "FALLBACK"
        assert after["promotions"].resolved_at == before["promotions"].resolved_at
        assert after["primary_contact"].resolution_status == "FAILED"

    async def test_the_resolver_recorded_at_creation_is_the_one_rerun(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await set_policy(db, world, "commerce_info", "UPFRONT", "CLIENT_HOOK")
        activity_id, detail = await new_activity(factory, world, request(keys=["commerce_info"]))
        assert detail is not None
        await set_policy(db, world, "commerce_info", "UPFRONT", "INTERNAL_SERVICE")
        assert await run(db, activity_id) == (
            "Could not resolve attribute commerce_info (CLIENT_HOOK has no endpoint configured)"
        )

    async def test_a_caller_provided_attribute_without_value_stays_failed(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await set_policy(db, world, "promotions", "CALLER_PROVIDED", "CALLER_PROVIDED")
        activity_id, detail = await new_activity(factory, world, request(keys=["promotions"]))
        assert detail == "Could not resolve attribute promotions (value not provided)"
        assert await run(db, activity_id) == detail

    async def test_primary_contact_follows_a_target_fixed_by_the_same_retry(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        activity_id, detail = await new_activity(
            factory, world, request(criteria=OWNER, keys=["primary_contact"])
        )
        assert detail is not None and "target user" in detail and "primary_contact" in detail
        owner = await add_user(db, world, ["OWNER", "FINANCE"])
        await add_contact(db, world, owner, "PHONE", "+56933333333")
        assert await run(db, activity_id) is None
        record = (await attributes_of(db, world, activity_id))["primary_contact"]
        assert record.value["commerceUserId"] == str(owner)


class TestDispatchEntryPoints:
    async def test_resolve_for_dispatch_runs_the_on_dispatch_records(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_config(db, world, strategy="ON_DISPATCH")
        await set_policy(db, world, "commerce_info", "ON_DISPATCH", "INTERNAL_SERVICE")
        await set_policy(db, world, "promotions", "ON_DISPATCH", "CLIENT_HOOK")
        activity_id, detail = await new_activity(
            factory,
            world,
            request(
                keys=["commerce_info", "promotions"],
                attributes=[{"key": "primary_contact", "value": "given"}],
            ),
        )
        assert detail is None
        assert await run(db, activity_id, resolution.resolve_for_dispatch) == (
            "Could not resolve target user "
            "(no active commerce user matches the criteria or the fallbacks), "
            "attribute promotions (CLIENT_HOOK has no endpoint configured)"
        )
        owner = await add_user(db, world, ["OWNER"])
        detail = await run(db, activity_id, resolution.resolve_for_dispatch)
        assert (
            detail
            == "Could not resolve attribute promotions (CLIENT_HOOK has no endpoint configured)"
        )
        target = await target_of(db, world, activity_id)
        assert target is not None and target.commerce_user_id == owner
        records = await attributes_of(db, world, activity_id)
        assert records["commerce_info"].resolution_status == "RESOLVED"
        assert records["primary_contact"].value == "given"

    async def test_retry_does_not_run_what_only_dispatch_should(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"])
        await add_config(db, world, strategy="ON_DISPATCH")
        await set_policy(db, world, "commerce_info", "ON_DISPATCH", "INTERNAL_SERVICE")
        activity_id, _ = await new_activity(factory, world, request(keys=["commerce_info"]))
        assert await run(db, activity_id) is None
        target = await target_of(db, world, activity_id)
        assert target is not None and target.resolution_status == "PENDING"
        record = (await attributes_of(db, world, activity_id))["commerce_info"]
        assert record.resolution_status == "PENDING"

    async def test_lock_target_user_locks_a_resolved_target_only(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"])
        resolved_id, _ = await new_activity(factory, world, request(criteria=OWNER))
        # The second commerce has no user at all.
        failed_id, _ = await new_activity(factory, world, request(criteria=OWNER), commerce_index=1)
        for activity_id in (resolved_id, failed_id):
            await run(db, activity_id, _lock)
        locked = await target_of(db, world, resolved_id)
        assert locked is not None
        assert (locked.resolution_status, locked.lock_reason) == ("LOCKED", "CRITERIA_MATCH")
        assert locked.locked_at is not None
        other = await target_of(db, world, failed_id)
        assert other is not None and other.resolution_status == "FAILED"
        assert other.locked_at is None

    async def test_a_locked_target_is_not_resolved_again_at_dispatch(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"])
        await add_config(db, world, strategy="ON_DISPATCH")
        activity_id, _ = await new_activity(factory, world, request())
        assert await run(db, activity_id, resolution.resolve_for_dispatch) is None
        await run(db, activity_id, _lock)
        async with db.sessionmaker() as session:
            user = await session.get(CommerceUser, owner)
            assert user is not None
            user.is_active = False
            await session.commit()
        assert await run(db, activity_id, resolution.resolve_for_dispatch) is None
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert (target.resolution_status, target.commerce_user_id) == ("LOCKED", owner)


async def _lock(session: AsyncSession, activity: Activity) -> None:
    await resolution.lock_target_user(session, activity)
