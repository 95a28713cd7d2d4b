"""Dashboard: today's and this week's activities by lifecycle status, dispatch health, results."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import service as activities
from reten.admin.web import Panel, panel, panel_router, render
from reten.auth.permissions import Permission
from reten.dispatch import configs
from reten.kit.pagination import PageParams
from reten.kit.time import day_start, utcnow, week_start
from reten.results import service as results
from reten.runtime import DbSession

router = panel_router()

LATEST_RESULTS = 10


@router.get("/")
async def dashboard(
    request: Request,
    ctx: Panel = Depends(panel(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    now = utcnow()
    today = day_start(now, ctx.tz)
    week = week_start(now, ctx.tz)
    tid = ctx.tenant_id
    latest, _, _ = await results.list_results(
        session, tid, results.ResultFilters(), "-created_at", PageParams(1, LATEST_RESULTS)
    )
    return render(
        request,
        "dashboard/index.html",
        {
            "today": await activities.lifecycle_counts(
                session, tid, today, today + timedelta(days=1)
            ),
            "week": await activities.lifecycle_counts(session, tid, week, week + timedelta(days=7)),
            "health": await configs.channel_health(session, tid, now - timedelta(hours=24)),
            "latest": latest,
        },
    )
