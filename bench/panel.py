"""P10: the admin panel's Activities pages against the API list, logged in, in the same run.

The panel is server-rendered on the same service layer as the API, so its pages should cost
about what the API costs plus the HTML: the Activities list page (`GET /activities`, first page,
25 rows, the default sort) and one activity's page (`GET /activities/{id}`) are each measured
as a ratio to `GET /api/activities?per_page=25` (the same service call, the same page size and
sort) served by the same server process. Budget (issue 10): each page >= 0.5 x the API.

The panel requests carry the session cookie of the tenant admin that `reten tenants create`
made, obtained the way a browser does: `GET /login` (login nonce cookie and CSRF token), then
`POST /login` with email, password and the token; the 303's `reten_session` cookie
authenticates every GET after it. The API side uses the bench's API key (VIEW_ACTIVITIES).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import re
import uuid
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import asyncpg  # type: ignore[import-untyped]

from bench.report import Measurement, Row
from bench.seed import ADMIN_EMAIL, Seeded, dsn
from bench.server import Server

PER_PAGE = 25  # the panel's page size (reten.admin.listing.PER_PAGE), asked of the API too
API_LIST = f"/api/activities?per_page={PER_PAGE}"
PANEL_LIST = "/activities"
P10_MIN = 0.50
# People, not integrations, load these pages; and the unfiltered list is a slow query (it
# sorts the tenant's rows by created_at), so with 32 in flight each request would wait seconds
# and a short window would complete almost none. 8 in flight still keeps the one server
# process and PostgreSQL busy, as P9 does with its 4 uploaders.
P10_CLIENTS = 8
CSRF_INPUT = re.compile(rb'name="csrf_token" value="([^"]+)"')


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in response.headers.get_all("set-cookie") or []:
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        jar.update({name: morsel.value for name, morsel in parsed.items() if morsel.value})
    return jar


def login(port: int, email: str, password: str) -> str:
    """The `Cookie` header of a fresh panel session, logged in as a browser would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        body = page.read()
        jar = _cookies(page)
        found = CSRF_INPUT.search(body)
        if page.status != 200 or found is None:
            raise RuntimeError(f"GET /login answered {page.status} without a CSRF token")
        form = urlencode(
            {"csrf_token": found.group(1).decode(), "email": email, "password": password,
             "next": PANEL_LIST}
        )  # fmt: skip
        conn.request(
            "POST", "/login", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())},
        )  # fmt: skip
        done = conn.getresponse()
        done.read()
        jar.update(_cookies(done))
    finally:
        conn.close()
    if done.status != 303 or "reten_session" not in jar:
        raise RuntimeError(f"POST /login answered {done.status} without a session cookie")
    jar.pop("reten_login", None)  # cleared by the login; the session cookie is what counts
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def _detail_activity(database: str, tenant_id: uuid.UUID) -> uuid.UUID:
    """A COMPLETED activity of the bench tenant: its page shows a result, commerce and task."""
    conn = await asyncpg.connect(dsn(database))
    try:
        found = await conn.fetchval(
            "SELECT id FROM activities WHERE tenant_id = $1 AND status = 'COMPLETED' "
            "ORDER BY idempotency_key LIMIT 1",
            tenant_id,
        )
    finally:
        await conn.close()
    if found is None:
        raise RuntimeError("the bench tenant has no COMPLETED activity")
    return uuid.UUID(str(found))


def run_p10(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> list[Row]:
    # Imported here: the runner imports this module to register the workload.
    from bench.runner import drive, log, measure_row

    cookie = login(server.port, ADMIN_EMAIL, seeded.admin_password)
    activity_id = asyncio.run(_detail_activity(args.database, seeded.tenant_id))
    log(f"P10 logged in as {ADMIN_EMAIL}; detail page of activity {activity_id}")
    requests: dict[str, dict[str, Any]] = {
        "api": {"method": "GET", "path": API_LIST, "headers": {"x-api-key": seeded.api_key},
                "expect_status": 200},
        "list": {"method": "GET", "path": PANEL_LIST, "headers": {"Cookie": cookie},
                 "expect_status": 200},
        "detail": {"method": "GET", "path": f"{PANEL_LIST}/{activity_id}",
                   "headers": {"Cookie": cookie}, "expect_status": 200},
    }  # fmt: skip
    # Mirrored order (api, list, detail, detail, list, api), so a slow drift of the machine hits
    # the pages and the API alike (as P5's ABBA does); each segment gets the whole duration,
    # since the slow list completes few requests per second.
    opts = argparse.Namespace(**{**vars(args), "clients": min(args.clients, P10_CLIENTS)})
    parts: dict[str, list[Measurement]] = {name: [] for name in requests}
    for name in ("api", "list", "detail", "detail", "list", "api"):
        parts[name].append(drive(server, requests[name], opts))
    api = measure_row(
        server, f"P10 GET /api/activities?per_page={PER_PAGE}", Measurement.merge(parts["api"]),
        base,
    )  # fmt: skip
    api.budget = "(P10 reference)"
    rows = [api]
    for name, label in (("list", "activities list"), ("detail", "activity detail")):
        row = measure_row(
            server, f"P10 panel {label} ÷ GET /api/activities", Measurement.merge(parts[name]),
            base,
        )  # fmt: skip
        ratio = row.rps / api.rps if api.rps else 0.0
        row.detail["over_api"] = ratio
        row.notes.append(f"{ratio:.3f} x GET /api/activities ({api.rps:.1f} req/s)")
        ok = ratio >= P10_MIN and row.errors == 0 and api.errors == 0
        row.judge(ok, f"page/api {ratio:.3f} >= {P10_MIN:.2f}, 0 errors")
        rows.append(row)
    return rows
