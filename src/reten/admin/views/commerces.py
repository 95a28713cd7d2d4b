"""Commerces: the list with search, and one commerce's page (addresses, users with their roles
and contacts, the routes it is on, its latest activities).

Commerces are written by the integrations (`/api/commerces`, its sync and the importer); the
panel reads them with the services of `GET /api/commerces` and `GET /api/commerces/{id}`.
"""

from __future__ import annotations

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import service as activities
from reten.activities.views import activity_item
from reten.admin.listing import ListPage, list_state
from reten.admin.web import Panel, panel, panel_router, render
from reten.auth.permissions import Permission
from reten.commerces import queries
from reten.kit.listing import parse_search
from reten.kit.pagination import PageParams
from reten.kit.params import parse_bool, parse_uuid
from reten.operators.schemas import check_text
from reten.routes import service as routes
from reten.routes.models import Route
from reten.runtime import DbSession

router = panel_router()

PATH = "/commerces"
# The latest activities on the commerce's page; the whole list is one link away.
RECENT_ACTIVITIES = 10
# Routes shown on the page; a commerce is on a handful.
ROUTES_SHOWN = 50
MANAGE = panel(Permission.MANAGE_COMMERCES)


@router.get(PATH)
async def list_commerces(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    state = list_state(request, default_sort="name")
    filters = queries.CommerceFilters(
        search=check_text("search", parse_search(state.get("search"))),
        is_active=parse_bool("is_active", state.get("is_active")),
    )
    rows, total, estimate = await queries.list_commerces(
        session, ctx.tenant_id, filters, sort=state.sort, page=state.page
    )
    return render(
        request,
        "commerces/index.html",
        {"commerces": ListPage(rows, total, estimate, state)},
        fragment="list",
    )


@router.get(PATH + "/{id}")
async def show_commerce(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    bundle = await queries.get_detail(session, ctx.tenant_id, parse_uuid("id", id))
    commerce_id = bundle.commerce.id
    on_routes: list[Route] = []
    if ctx.can(Permission.MANAGE_ROUTES):
        on_routes, _, _ = await routes.list_routes(
            session,
            ctx.tenant_id,
            routes.RouteFilters(commerce_id=commerce_id),
            "name",
            PageParams(page=1, per_page=ROUTES_SHOWN),
        )
    recent: list[dict[str, object]] = []
    recent_total = 0
    # Activities are shown to callers who may read them, like the Activities page.
    if ctx.can(Permission.VIEW_ACTIVITIES):
        rows, recent_total, _ = await activities.list_activities(
            session,
            ctx.tenant_id,
            activities.ActivityFilters(commerce_id=commerce_id),
            "-created_at",
            PageParams(page=1, per_page=RECENT_ACTIVITIES),
        )
        recent = [activity_item(r) for r in rows]
    return render(
        request,
        "commerces/detail.html",
        {
            "bundle": bundle,
            "commerce": bundle.commerce,
            "routes": on_routes,
            "activities": recent,
            "activities_total": recent_total,
        },
    )
