"""Results: every submitted result, standalone ones included, with the API's filters."""

from __future__ import annotations

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import ResultStatus
from reten.admin.listing import ListPage, list_state
from reten.admin.web import Panel, local_filter, panel, panel_router, render
from reten.auth.permissions import Permission
from reten.kit.params import (
    parse_bool,
    parse_enum,
    parse_enum_list,
    parse_optional_uuid,
)
from reten.results import service
from reten.results.models import ResultSource
from reten.results.service import ResultFilters
from reten.results.views import result_item
from reten.runtime import DbSession

router = panel_router()

PATH = "/results"
VIEW = panel(Permission.VIEW_ACTIVITIES)
STATUSES = [s.value for s in ResultStatus]
SOURCES = [s.value for s in ResultSource]


@router.get(PATH)
async def list_results(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    state = list_state(request, default_sort="-created_at")
    operator = state.get("operator_id")
    filters = ResultFilters(
        operator_id=parse_optional_uuid("operator_id", operator),
        operator_external_id=state.get("operator_external_id"),
        source=parse_enum("source", state.get("source"), SOURCES),
        statuses=tuple(parse_enum_list("status", state.get("status"), STATUSES) or ()),
        result=state.get("result"),
        occurred_from=local_filter(state.get("occurred_from"), "occurred_from", ctx.tz),
        occurred_to=local_filter(state.get("occurred_to"), "occurred_to", ctx.tz),
        include_superseded=parse_bool("include_superseded", state.get("include_superseded"))
        or False,
    )
    rows, total, estimate = await service.list_results(
        session, ctx.tenant_id, filters, state.sort, state.page
    )
    results = ListPage([result_item(r) for r in rows], total, estimate, state)
    return render(
        request,
        "results/index.html",
        {"results": results, "statuses": STATUSES, "sources": SOURCES},
        fragment="list",
    )
