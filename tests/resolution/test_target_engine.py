"""The target-user half of the engine (management-api.md §11.2): when a record exists, its
timing, each criterion, the fallbacks, several configs, and the outcome."""

from __future__ import annotations

import uuid
from datetime import timedelta

from reten.activities.models import Activity, Channel
from reten.commerces.models import CommerceUser
from reten.kit.db import Database
from reten.kit.time import utcnow
from reten.resolution import service as resolution
from reten.resolution.models import ActivityAttribute, ActivityTargetUser
from tests.factories import Factory, World
from tests.resolution.support import (
    add_config,
    add_user,
    new_activity,
    request,
    resolve_new,
    set_dispatched,
    target_of,
)

TARGET_FAILED = (
    "Could not resolve target user (no active commerce user matches the criteria or the fallbacks)"
)


def role(name: str, priority: int | None = None) -> dict[str, object]:
    item: dict[str, object] = {"type": "ROLE_MATCH", "config": {"role": name}}
    if priority is not None:
        item["priority"] = priority
    return item


SAME = {"type": "LAST_CONTACTED_SAME_CHANNEL"}
ALL = {"type": "LAST_CONTACTED_ALL_CHANNELS"}


async def resolved_user(
    factory: Factory, world: World, criteria: list[dict[str, object]] | None, **task: object
) -> tuple[uuid.UUID | None, str | None]:
    activity_id, detail = await new_activity(factory, world, request(criteria=criteria), **task)  # type: ignore[arg-type]
    target = await target_of(factory.db, world, activity_id)
    assert target is not None
    if detail is None:
        assert target.resolution_status == "RESOLVED"
        return target.commerce_user_id, target.lock_reason
    assert target.resolution_status == "FAILED"
    return None, detail


async def contacted(
    factory: Factory,
    world: World,
    user_role: str,
    channel: Channel,
    minutes_ago: int,
    *,
    commerce_index: int = 0,
) -> uuid.UUID:
    """A dispatched activity whose target user is the (only) holder of `user_role`."""  # fmt: skip
    activity_id, detail = await new_activity(
        factory, world, request(criteria=[role(user_role)]), channel=channel,
        commerce_index=commerce_index,
    )  # fmt: skip
    assert detail is None
    await set_dispatched(factory.db, activity_id, utcnow() - timedelta(minutes=minutes_ago))
    return activity_id


class TestWhenARecordExists:
    async def test_no_criteria_and_no_config_means_no_record(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"])
        await add_config(db, world, active=False)
        activity_id, detail = await new_activity(factory, world, request())
        assert detail is None
        assert await target_of(db, world, activity_id) is None

    async def test_criteria_without_a_config_resolve_on_creation(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"])
        activity_id, detail = await new_activity(factory, world, request(criteria=[role("OWNER")]))
        target = await target_of(db, world, activity_id)
        assert detail is None and target is not None
        assert target.resolution_strategy == "ON_CREATION"
        assert target.resolution_status == "RESOLVED"
        assert target.commerce_user_id == owner
        assert target.lock_reason == "CRITERIA_MATCH"
        assert target.resolved_at is not None
        assert abs((target.resolved_at - utcnow()).total_seconds()) < 60
        assert target.locked_at is None
        assert target.error_message is None

    async def test_an_active_config_alone_makes_a_record(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"])
        await add_config(db, world)
        activity_id, _ = await new_activity(factory, world, request())
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert (target.commerce_user_id, target.lock_reason) == (owner, "FALLBACK_OWNER")

    async def test_the_lowest_priority_active_config_sets_the_timing(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER"])
        await add_config(db, world, strategy="ON_CREATION", priority=5)
        await add_config(db, world, strategy="MANUAL", priority=0, active=False)
        await add_config(db, world, strategy="ON_DISPATCH", priority=2)
        activity_id, detail = await new_activity(factory, world, request(criteria=[role("OWNER")]))
        target = await target_of(db, world, activity_id)
        assert detail is None and target is not None
        assert target.resolution_strategy == "ON_DISPATCH"
        assert target.resolution_status == "PENDING"
        assert target.commerce_user_id is None and target.resolved_at is None

    async def test_manual_timing_stays_pending_and_does_not_block(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_config(db, world, strategy="MANUAL")
        activity_id, detail = await new_activity(factory, world, request())
        target = await target_of(db, world, activity_id)
        assert detail is None and target is not None
        assert (target.resolution_strategy, target.resolution_status) == ("MANUAL", "PENDING")

    async def test_resolve_on_creation_reports_without_committing(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)  # no config yet: no record
        async with db.sessionmaker() as session:
            activity = await session.get(Activity, activity_id)
            assert activity is not None
            detail = await resolution.resolve_on_creation(
                session, activity, world.commerce_ids[0], request(criteria=[role("OWNER")])
            )
            assert detail == TARGET_FAILED
            await session.rollback()
        assert await target_of(db, world, activity_id) is None
        assert await resolve_new(db, world, activity_id, request(criteria=[SAME])) == TARGET_FAILED
        target = await target_of(db, world, activity_id)
        assert target is not None and target.requested_criteria == [
            {"type": "LAST_CONTACTED_SAME_CHANNEL", "config": {}, "priority": 0}
        ]


class TestRoleMatch:
    async def test_the_earliest_created_active_holder_wins(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["FINANCE"], minute=0, active=False)
        await add_user(db, world, ["FINANCE", "OWNER"], minute=3)
        earliest = await add_user(db, world, ["ORDERS", "FINANCE"], minute=1)
        await add_user(db, world, ["FINANCE"], minute=2)
        assert await resolved_user(factory, world, [role("FINANCE")]) == (
            earliest,
            "CRITERIA_MATCH",
        )

    async def test_criteria_run_in_priority_order_not_list_order(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["FINANCE"], minute=0)
        orders = await add_user(db, world, ["ORDERS"], minute=1)
        criteria = [role("FINANCE", priority=5), role("ORDERS", priority=1)]
        assert await resolved_user(factory, world, criteria) == (orders, "CRITERIA_MATCH")

    async def test_a_criterion_without_a_user_passes_to_the_next(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        admin_user = await add_user(db, world, ["ADMIN"])
        await add_user(db, world, ["OWNER"])
        criteria = [role("ATTENTION"), role("ADMIN")]
        assert await resolved_user(factory, world, criteria) == (admin_user, "CRITERIA_MATCH")

    async def test_users_of_another_commerce_are_never_chosen(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER", "COMMERCE_REP"], commerce_index=1)
        assert await resolved_user(factory, world, [role("OWNER")]) == (None, TARGET_FAILED)


class TestLastContacted:
    async def test_same_channel_and_all_channels(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        salesman_contact = await add_user(db, world, ["ORDERS"], minute=0)
        callcenter_contact = await add_user(db, world, ["FINANCE"], minute=1)
        await contacted(factory, world, "ORDERS", Channel.SALESMAN, minutes_ago=30)
        await contacted(factory, world, "FINANCE", Channel.CALLCENTER, minutes_ago=10)
        assert await resolved_user(factory, world, [SAME]) == (salesman_contact, "CRITERIA_MATCH")
        assert await resolved_user(factory, world, [ALL]) == (callcenter_contact, "CRITERIA_MATCH")
        assert await resolved_user(factory, world, [SAME], channel=Channel.CALLCENTER) == (
            callcenter_contact,
            "CRITERIA_MATCH",
        )

    async def test_the_most_recent_dispatch_wins_not_the_most_recent_creation(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        first = await add_user(db, world, ["ORDERS"])
        await add_user(db, world, ["FINANCE"])
        await contacted(factory, world, "ORDERS", Channel.SALESMAN, minutes_ago=1)
        await contacted(factory, world, "FINANCE", Channel.SALESMAN, minutes_ago=60)
        assert await resolved_user(factory, world, [SAME]) == (first, "CRITERIA_MATCH")

    async def test_undispatched_foreign_and_userless_activities_do_not_count(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["ORDERS"])
        await add_user(db, world, ["ORDERS"], commerce_index=1)
        # Not dispatched.
        await new_activity(factory, world, request(criteria=[role("ORDERS")]))
        # Dispatched, but for the other commerce.
        await contacted(factory, world, "ORDERS", Channel.SALESMAN, 5, commerce_index=1)
        # Dispatched, but its target user FAILED (no commerce user).
        failed_id, detail = await new_activity(factory, world, request(criteria=[role("OTHER")]))
        assert detail is not None
        await set_dispatched(db, failed_id, utcnow())
        assert await resolved_user(factory, world, [SAME, ALL]) == (None, TARGET_FAILED)

    async def test_an_inactive_last_contact_yields_nothing(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["FINANCE"])
        latest = await add_user(db, world, ["ORDERS"])
        await contacted(factory, world, "FINANCE", Channel.SALESMAN, minutes_ago=50)
        await contacted(factory, world, "ORDERS", Channel.SALESMAN, minutes_ago=5)
        async with db.sessionmaker() as session:
            user = await session.get(CommerceUser, latest)
            assert user is not None
            user.is_active = False
            await session.commit()
        # The latest contact is gone; an older one is not used instead.
        assert await resolved_user(factory, world, [ALL]) == (None, TARGET_FAILED)
        owner = await add_user(db, world, ["OWNER"])
        assert await resolved_user(factory, world, [ALL, role("OWNER")]) == (
            owner,
            "CRITERIA_MATCH",
        )

    async def test_the_activity_itself_is_not_its_own_last_contact(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["ORDERS"])
        activity_id = await contacted(factory, world, "ORDERS", Channel.SALESMAN, minutes_ago=5)
        target = await target_of(db, world, activity_id)
        assert target is not None
        async with db.sessionmaker() as session:
            activity = await session.get(Activity, activity_id)
            assert activity is not None
            # Make the record due again with criteria that only a last contact could satisfy.
            stored = await session.get(ActivityTargetUser, target.id)
            assert stored is not None
            stored.resolution_status = "FAILED"
            stored.requested_criteria = [{"type": "LAST_CONTACTED_ALL_CHANNELS", "priority": 0}]
            await session.flush()
            assert await resolution.retry(session, activity) == TARGET_FAILED
            await session.rollback()


class TestFallbacks:
    async def test_commerce_rep_then_owner(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        owner = await add_user(db, world, ["OWNER"], minute=0)
        assert await resolved_user(factory, world, [role("ORDERS")]) == (owner, "FALLBACK_OWNER")
        await add_user(db, world, ["COMMERCE_REP"], minute=5, active=False)
        rep = await add_user(db, world, ["COMMERCE_REP"], minute=9)
        await add_user(db, world, ["COMMERCE_REP"], minute=10)
        assert await resolved_user(factory, world, [role("ORDERS")]) == (
            rep,
            "FALLBACK_COMMERCE_REP",
        )

    async def test_a_config_without_rep_fallback_goes_to_the_owner(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["COMMERCE_REP"])
        owner = await add_user(db, world, ["OWNER"])
        await add_config(db, world, rep=False)
        assert await resolved_user(factory, world, None) == (owner, "FALLBACK_OWNER")

    async def test_a_config_without_fallbacks_fails_when_no_criterion_matches(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["COMMERCE_REP", "OWNER"])
        await add_config(db, world, rep=False, owner=False, criteria=[role("FINANCE")])
        assert await resolved_user(factory, world, None) == (None, TARGET_FAILED)

    async def test_request_criteria_replace_the_configs_and_keep_their_fallbacks(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["ORDERS"])
        await add_user(db, world, ["OWNER"])
        await add_config(db, world, rep=False, owner=False, criteria=[role("ORDERS")])
        assert await resolved_user(factory, world, [role("FINANCE")]) == (None, TARGET_FAILED)
        finance = await add_user(db, world, ["FINANCE"])
        assert await resolved_user(factory, world, [role("FINANCE")]) == (
            finance,
            "CRITERIA_MATCH",
        )

    async def test_each_config_runs_its_criteria_then_its_fallbacks_before_the_next(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        await add_user(db, world, ["ORDERS"], minute=0)
        owner = await add_user(db, world, ["OWNER"], minute=1)
        await add_config(db, world, priority=0, criteria=[role("FINANCE")], rep=False)
        await add_config(db, world, priority=1, criteria=[role("ORDERS")])
        assert await resolved_user(factory, world, None) == (owner, "FALLBACK_OWNER")

    async def test_a_later_config_is_used_when_an_earlier_one_yields_nobody(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        orders = await add_user(db, world, ["ORDERS"])
        await add_user(db, world, ["OWNER"])
        await add_config(db, world, priority=0, criteria=[role("FINANCE")], rep=False, owner=False)
        await add_config(db, world, priority=1, criteria=[role("ORDERS")], owner=False)
        await add_config(db, world, priority=2, active=False, criteria=[role("OWNER")])
        assert await resolved_user(factory, world, None) == (orders, "CRITERIA_MATCH")

    async def test_no_active_user_at_all_fails(self, factory: Factory, db: Database) -> None:
        world = await factory.world()
        await add_user(db, world, ["OWNER", "COMMERCE_REP"], active=False)
        assert await resolved_user(factory, world, [role("OWNER")]) == (None, TARGET_FAILED)
        activity_id, _ = await new_activity(factory, world, request(criteria=[role("OWNER")]))
        target = await target_of(db, world, activity_id)
        assert target is not None
        assert target.commerce_user_id is None
        assert target.lock_reason is None and target.resolved_at is None
        assert target.error_message == (
            "no active commerce user matches the criteria or the fallbacks"
        )


class TestFailureDetail:
    async def test_the_target_and_failed_attributes_share_one_sentence(
        self, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        _, detail = await new_activity(
            factory, world, request(criteria=[role("OWNER")], keys=["promotions", "commerce_info"])
        )
        assert detail == (
            "Could not resolve target user "
            "(no active commerce user matches the criteria or the fallbacks), "
            "attribute promotions (no data source for promotions)"
        )

    async def test_a_long_sentence_is_cut_to_500_characters(self) -> None:
        failures = [
            (ActivityAttribute(resolution_status="FAILED", error_message="x" * 300), f"k{i}")
            for i in range(3)
        ]
        detail = resolution.failure_detail(None, failures)
        assert detail is not None and len(detail) == 500 and detail.endswith("…")
        assert resolution.failure_detail(None, []) is None
