"""ActivityDetail (management-api.md §3): the activity, its dispatch state, its results (newest
first) and its status events, in a constant number of queries.

It sits above activities, results and dispatch because it shows all three; the endpoints that
answer with an ActivityDetail (create, cancel, retry-resolution, retry-dispatch, get) call their
action first, then this read.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import ActivityStatus
from reten.activities.models import Activity, ActivityStatusEvent
from reten.activities.service import state_of
from reten.activities.views import activity_item, activity_rows
from reten.dispatch.service import force_retry_flags
from reten.kit.actor import actor_json
from reten.kit.db import TenantRepository
from reten.kit.errors import NotFound
from reten.kit.time import iso
from reten.results.models import ActivityResult
from reten.results.views import result_item, result_rows


async def activity_detail(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> dict[str, Any] | None:
    repo = TenantRepository(session, tenant_id)
    row = (await session.execute(activity_rows(repo).where(Activity.id == activity_id))).first()
    if row is None:
        return None
    a: Activity = row.Activity
    results = (
        await session.execute(
            result_rows(repo)
            .where(ActivityResult.activity_id == activity_id)
            .order_by(ActivityResult.created_at.desc(), ActivityResult.id.desc())
        )
    ).all()
    events = (
        await session.execute(
            repo.select(ActivityStatusEvent)
            .where(ActivityStatusEvent.activity_id == activity_id)
            .order_by(ActivityStatusEvent.created_at, ActivityStatusEvent.id)
        )
    ).scalars()
    [can_force_retry] = await force_retry_flags(session, tenant_id, [(state_of(a), a.channel)])
    detail = activity_item(row)
    detail["dispatch"] = {
        "attemptCount": a.attempt_count,
        "lastAttemptAt": iso(a.last_attempt_at),
        "nextAttemptAt": iso(a.next_attempt_at) if a.status == ActivityStatus.READY else None,
        "lastError": a.last_error,
        "providerActivityId": a.provider_activity_id,
        "dispatchedAt": iso(a.dispatched_at),
        "dispatchConfigId": str(a.dispatch_config_id) if a.dispatch_config_id else None,
        "canForceRetryDispatch": can_force_retry,
    }
    detail["results"] = [result_item(r) for r in results]
    detail["statusEvents"] = [
        {
            "fromStatus": e.from_status,
            "toStatus": e.to_status,
            "event": e.event,
            "detail": e.detail,
            "createdAt": iso(e.created_at),
            "actor": actor_json(e.actor_type, e.actor_id, e.actor_label),
        }
        for e in events
    ]
    return detail


async def detail_or_404(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> dict[str, Any]:
    detail = await activity_detail(session, tenant_id, activity_id)
    if detail is None:
        raise NotFound("Activity not found")
    return detail
