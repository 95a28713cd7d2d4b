"""Random sequences of operations on a real activity: its recorded events always replay to the
stored status, and no sequence ends in a state the lifecycle table forbids."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from reten.activities import service as activities
from reten.activities.lifecycle import (
    ActivityStatus,
    LifecycleStatus,
    ResultStatus,
    Trigger,
    decide,
    derive_lifecycle,
)
from reten.activities.models import Activity, ActivityStatusEvent
from reten.kit.actor import Actor
from reten.kit.errors import AppError
from reten.results import service as results
from reten.results.models import ActivityResult
from tests.factories import Factory, World, result_submission

MOVES = [Trigger.DISPATCH_RESOLUTION_FAILED, Trigger.RETRY_RESOLUTION_SUCCEEDED,
         Trigger.RETRY_RESOLUTION_FAILED, Trigger.DISPATCH_ACCEPTED, Trigger.DISPATCH_EXHAUSTED,
         Trigger.RETRY_DISPATCH]  # fmt: skip

operation = st.one_of(
    st.tuples(st.just("result"), st.sampled_from(list(ResultStatus)), st.booleans()),
    st.tuples(st.just("cancel"), st.none(), st.none()),
    st.tuples(st.just("move"), st.sampled_from(MOVES), st.none()),
)

_world: dict[str, World] = {}


async def _apply(
    factory: Factory, world: World, activity_id: Any, op: tuple[Any, Any, Any]
) -> None:
    kind, arg, flag = op
    async with factory.db.sessionmaker() as session:
        try:
            if kind == "result":
                await results.submit(
                    factory.db, world.tenant_id, Actor.system(),
                    result_submission(world, activity_id, status=arg, hard_override=flag, result_code="NO_CONTACT"),
                    lambda s: {},
                )  # fmt: skip
            elif kind == "cancel":
                await activities.cancel_activity(
                    session, world.tenant_id, activity_id, Actor.system(), "x"
                )
            else:
                # Dispatch and resolution moves go through the one writer, as their services will.
                activity = (
                    await session.execute(select(Activity).where(Activity.id == activity_id))
                ).scalar_one()
                transition = decide(activities.state_of(activity), arg)
                assert await activities.apply_transition(
                    session, activity, transition, Actor.system()
                )
                await session.commit()
        except AppError as refused:
            # A refused move is a 4xx and must leave nothing behind.
            assert refused.status_code in (400, 409)


class TestLifecycleProperties:
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops=st.lists(operation, min_size=1, max_size=7))
    async def test_events_replay_to_the_stored_status(
        self, factory: Factory, ops: list[tuple[Any, Any, Any]]
    ) -> None:
        if "w" not in _world:
            _world["w"] = await factory.world()
        world = _world["w"]
        activity_id = await factory.task(world)
        for op in ops:
            await _apply(factory, world, activity_id, op)

        async with factory.db.sessionmaker() as session:
            activity = (
                await session.execute(select(Activity).where(Activity.id == activity_id))
            ).scalar_one()
            events = list((await session.execute(
                select(ActivityStatusEvent).where(ActivityStatusEvent.activity_id == activity_id)
                .order_by(ActivityStatusEvent.created_at, ActivityStatusEvent.id)
            )).scalars())  # fmt: skip
            current = list((await session.execute(
                select(ActivityResult).where(ActivityResult.activity_id == activity_id, ActivityResult.superseded_by_id.is_(None))
            )).scalars())  # fmt: skip

        # Replay: a chain from creation to the stored status, each event starting where the last ended.
        assert events[0].from_status is None and events[0].event == "CREATED"
        for before, after in itertools.pairwise(events):
            assert after.from_status == before.to_status
        assert events[-1].to_status == activity.status

        # The stored derived columns agree with the lifecycle module.
        state = activities.state_of(activity)
        assert activity.lifecycle_status == derive_lifecycle(state).value
        finals = [r for r in current if r.status != ResultStatus.PENDING.value]
        assert len(finals) <= 1  # at most one current final result
        assert (activity.final_result_id is not None) == bool(finals)
        if activity.status == ActivityStatus.COMPLETED.value:
            assert finals and finals[0].status in (
                ResultStatus.COMPLETED.value,
                ResultStatus.TRANSFERRED.value,
            )
        if activity.status == ActivityStatus.FAILED.value and not finals:
            # FAILED without a result can only be a dispatch failure.
            assert [e.event for e in events if e.to_status == "FAILED"][-1] == "DISPATCH_FAILED"
        if finals:
            assert activity.lifecycle_status in (
                LifecycleStatus.EFFECTIVE.value,
                LifecycleStatus.NOT_EFFECTIVE.value,
                LifecycleStatus.CANCELED.value,
            )
