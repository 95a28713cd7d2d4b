"""Login, logout and the tenant switcher."""

from __future__ import annotations

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.admin import session as cookies
from reten.admin.web import Panel, panel, panel_router, read_form, redirect, render
from reten.auth import service as auth
from reten.auth.dependencies import check_login_rate
from reten.kit.errors import AppError, NotFound
from reten.runtime import DbSession, get_runtime

router = panel_router()


def _next_url(raw: object) -> str:
    # Only a path of this site: an open redirect would make the login page a phishing tool.
    if isinstance(raw, str) and raw.startswith("/") and not raw.startswith(("//", "/\\")):
        return raw
    return "/"


def _login_page(
    request: Request, email: str, next_url: str, error: str | None, status_code: int
) -> Response:
    settings = get_runtime(request).settings
    response = Response()
    nonce = cookies.login_nonce(request, response, settings)
    page = render(
        request,
        "auth/login.html",
        {
            "csrf_token": cookies.csrf_token(request, settings, nonce),
            "email": email,
            "next": next_url,
            "error": error,
        },
        status_code=status_code,
    )
    for value in response.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request, "", _next_url(request.query_params.get("next")), None, 200)


@router.post("/login")
async def login(request: Request, session: AsyncSession = DbSession) -> Response:
    runtime = get_runtime(request)
    form = await read_form(request)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = _next_url(form.get("next"))
    try:
        await check_login_rate(runtime, request.client.host if request.client else None, email)
        issued = await auth.login(session, runtime.settings, email, password)
    except AppError as exc:
        # The service's message never says which of email or password was wrong.
        return _login_page(request, email, next_url, exc.message, exc.status_code)
    response = redirect(request, next_url)
    cookies.start_session(response, runtime.settings, issued.refresh_token)
    return response


@router.post("/logout")
async def logout(request: Request, session: AsyncSession = DbSession) -> Response:
    settings = get_runtime(request).settings
    # Revokes the login server-side: a copy of the cookie no longer opens anything.
    await auth.logout(session, cookies.session_token(request, settings))
    response = redirect(request, "/login")
    cookies.clear(response, settings, cookies.SESSION_COOKIE)
    cookies.clear(response, settings, cookies.TENANT_COOKIE)
    return response


@router.post("/tenant")
async def switch_tenant(request: Request, ctx: Panel = Depends(panel(tenant=False))) -> Response:
    wanted = str((await read_form(request)).get("tenant_id") or "")
    if wanted not in {str(t.id) for t in ctx.tenants}:
        raise NotFound("Tenant not found")
    response = redirect(request, "/")
    cookies.set_tenant(response, ctx.settings, wanted)
    return response
