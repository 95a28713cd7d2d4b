"""Resolution operations that also read or move the activity's status (11.8, 11.10).

They sit in `activities`, above both `activities.service` (the one writer of status changes) and
`resolution.service` (the engine): activity creation makes the first import the second, so the
engine must not import the activities service back.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import service as activities
from reten.activities.lifecycle import Trigger, decide
from reten.kit.actor import Actor
from reten.kit.errors import BadRequest, Conflict
from reten.resolution import service as resolution


async def retry_resolution(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID, actor: Actor
) -> None:
    """11.8: re-run what failed; UNRESOLVED → READY when nothing FAILED remains, else stay
    UNRESOLVED with RESOLUTION_RETRY_FAILED."""
    for _ in range(activities.TRANSITION_ROUNDS):
        activity = await resolution.get_activity(session, tenant_id, activity_id)
        state = activities.state_of(activity)
        # Refuse anything but UNRESOLVED before doing any work (both outcomes share the rule).
        decide(state, Trigger.RETRY_RESOLUTION_FAILED)
        detail = await resolution.retry(session, activity)
        trigger = (
            Trigger.RETRY_RESOLUTION_SUCCEEDED
            if detail is None
            else Trigger.RETRY_RESOLUTION_FAILED
        )
        applied = await activities.apply_transition(
            session,
            activity,
            decide(state, trigger),
            actor,
            event_detail=detail,
            lifecycle_detail=detail,
        )
        if applied:
            await session.commit()
            return
        # Another writer changed the activity since we read it: drop our records' changes too,
        # then decide again on what is stored now.
        await session.rollback()
    raise Conflict("The activity is being updated concurrently; retry the request")


async def assign_target_user(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID,
    target_user_id: uuid.UUID,
    commerce_user_id: uuid.UUID,
) -> resolution.TargetUserView:
    """11.10: lock the target user on a commerce user of the activity's commerce. The
    activity's status does not change (an UNRESOLVED activity still needs 11.8)."""
    activity = await resolution.get_activity(session, tenant_id, activity_id)
    target = await resolution.get_target_user(session, activity, target_user_id)
    user = await resolution.get_commerce_user(session, activity, commerce_user_id)
    status = activities.state_of(activity)
    if status.is_terminal:
        raise BadRequest(
            f"Activity in status {activity.status} cannot have its target user resolved"
        )
    await resolution.assign_manually(session, target, user)
    await session.commit()
    return resolution.TargetUserView(target, user)
