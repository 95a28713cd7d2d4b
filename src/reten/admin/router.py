"""The admin panel: one more front door onto the services, mounted at `/` next to `/api`.

Each page family is a module of `reten.admin.views` with its own `router`; this module only
collects them. See docs/admin-panel.md ("Adding a page").
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from reten.admin.security import PanelHeadersMiddleware, is_panel_path
from reten.admin.templating import STATIC_DIR
from reten.admin.views import (
    activities,
    api_keys,
    auth,
    dashboard,
    dispatch_configs,
    records,  # operators, routes, commerces, tenants, audit log
    result_types,
    results,
    users,
)
from reten.admin.web import PanelRoute, error_page

# Page-family routers in mounting order. A new page family adds its module here.
VIEWS = (
    auth.router,
    dashboard.router,
    api_keys.router,
    activities.router,
    results.router,
    users.router,
    result_types.router,
    dispatch_configs.router,
    records.router,
)

router = APIRouter(include_in_schema=False, route_class=PanelRoute)
for view in VIEWS:
    router.include_router(view)


def install(app: FastAPI) -> None:
    """Mount the panel's pages, its static files and its security headers on `app`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(PanelHeadersMiddleware)
    app.state.error_page_for = _unknown_page


def _unknown_page(request: Request, status_code: int, message: str) -> Response | None:
    """The panel's 404/405 page for an unknown panel path; None leaves the API's JSON body.

    Only a browser gets the page (it asks for text/html): a script that mistypes a path outside
    `/api` still reads the standard JSON error body it knows how to handle.
    """
    if status_code not in (404, 405) or not is_panel_path(request.url.path):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    return error_page(request, status_code, "There is no such page.")
