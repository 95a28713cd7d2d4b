"""The machinery every panel view uses: the caller (`panel`), rendering, forms and their errors.

A view is written like an API endpoint (architecture.md): resolve the caller with
`Depends(panel(Permission.X))`, parse the form with the API's schema (`parse_form`), call one
service function, `render` a template. Errors raised anywhere in a panel route (service
exceptions, permission refusals, a bad CSRF token) become HTML pages in `PanelRoute`, never the
API's JSON body.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from reten.admin import session as cookies
from reten.admin.templating import render_template
from reten.auth.dependencies import check_permission, user_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.config import Settings
from reten.kit.errors import AppError, PermissionDenied, is_storage_unavailable
from reten.kit.jsonbody import validate_body
from reten.kit.params import parse_timestamp
from reten.runtime import get_runtime
from reten.tenants import service as tenants
from reten.tenants.models import Tenant
from reten.users import sessions
from reten.users.models import User

log = structlog.get_logger("reten.admin")

ModelT = TypeVar("ModelT", bound=BaseModel)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid session: plain requests go to the login page, htmx requests are told to."""


class CsrfRefused(PermissionDenied):
    default_message = (
        "The form expired or did not come from this site. Reload the page and try again."
    )


@dataclass(frozen=True)
class Panel:
    """The signed-in caller of a panel request, with what every page template needs."""

    principal: Principal
    user: User
    tenant: Tenant | None
    tenants: list[Tenant]
    csrf_token: str
    settings: Settings

    def can(self, permission: Permission | str) -> bool:
        """Templates show an action only when this is true; the view's `panel(...)` refuses it."""
        return Permission(permission) in self.principal.permissions

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.require_tenant()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.time_zone if self.tenant else "UTC")


def _pick_tenant(request: Request, available: list[Tenant]) -> Tenant | None:
    wanted = request.cookies.get(cookies.TENANT_COOKIE)
    for tenant in available:
        if str(tenant.id) == wanted:
            return tenant
    return available[0] if available else None


async def _resolve(request: Request, permission: Permission | None, needs_tenant: bool) -> Panel:
    runtime = get_runtime(request)
    token = cookies.session_token(request, runtime.settings)
    # Every page starts with these two reads: on the read pool (autocommit, no pre-ping) they
    # are two round trips instead of six, which is a good part of what a panel page costs.
    async with runtime.db.reader() as conn:
        session = AsyncSession(bind=conn, expire_on_commit=False)
        try:
            user = await sessions.user_of_session(session, token)
            if user is None:
                raise LoginRequired()
            # Tenants the caller may act in: its memberships (every tenant for a SUPER_ADMIN).
            available = await tenants.list_visible(session, user_principal(user, None))
        finally:
            await session.close()
    tenant = _pick_tenant(request, available)
    principal = user_principal(user, tenant.id if tenant else None)
    ctx = Panel(
        principal=principal,
        user=user,
        tenant=tenant,
        tenants=available,
        csrf_token=cookies.csrf_token(request, runtime.settings),
        settings=runtime.settings,
    )
    # The error pages of this request show the navigation of the caller.
    request.state.panel = ctx
    if needs_tenant and tenant is None:
        raise PermissionDenied("You are not a member of any tenant yet")
    check_permission(principal, permission)
    return ctx


def panel(
    permission: Permission | None = None, *, tenant: bool = True
) -> Callable[[Request], Awaitable[Panel]]:
    """Dependency: the signed-in caller, refused (403 page) without `permission`.

    The same permission catalog and check as the API's `require`-style dependencies.
    """

    async def dependency(request: Request) -> Panel:
        return await _resolve(request, permission, tenant)

    return dependency


# ---- forms ----------------------------------------------------------------------------------


async def read_form(request: Request) -> FormData:
    """The urlencoded body of a panel form (every panel form posts urlencoded)."""
    cached = getattr(request.state, "form", None)
    if isinstance(cached, FormData):
        return cached
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    pairs: list[tuple[str, str | UploadFile]] = []
    if content_type == "application/x-www-form-urlencoded":
        body = await request.body()
        pairs = list(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    form = FormData(pairs)
    request.state.form = form
    return form


async def confirmed(request: Request) -> bool:
    """Whether a destructive form was posted from its confirmation (`confirm=yes`): without
    JavaScript the first post shows the confirmation page, whose button posts again with it."""
    return (await read_form(request)).get("confirm") == "yes"


def parse_form(
    model: type[ModelT],
    form: FormData,
    *,
    lists: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> ModelT:
    """Validate a form with the API's schema and the API's error details.

    `lists` names multi-valued fields (checkboxes); `optional` names fields for which an empty
    input means "not given" (an empty date box is no date, not an invalid one).
    """
    data: dict[str, Any] = {}
    for name in form:
        if name == cookies.CSRF_FIELD:
            continue
        if name in lists:
            data[name] = form.getlist(name)
            continue
        value = form.get(name)
        if name in optional and value in (None, ""):
            continue
        data[name] = value
    for name in lists:
        data.setdefault(name, [])
    return validate_body(model, data)


def local_timestamp(form: FormData, name: str, tz: ZoneInfo) -> FormData:
    """The form with a `datetime-local` input (which has no zone) read in the tenant's zone.

    The API's schemas refuse timestamps without a zone; a person typing a time means their
    tenant's local time. A value that does not parse is left as typed for the schema to report.
    """
    raw = form.get(name)
    if not isinstance(raw, str) or not raw.strip():
        return form
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        return form
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return FormData([(k, parsed.isoformat() if k == name else v) for k, v in form.multi_items()])


def local_filter(value: str | None, name: str, tz: ZoneInfo) -> datetime | None:
    """A list's `datetime-local` filter from the URL (no zone) read in the tenant's zone, as a
    form's input is; a value that is not a time is the API's 400 naming the filter."""
    if value is None:
        return None
    raw = local_timestamp(FormData([(name, value)]), name, tz).get(name)
    return parse_timestamp(name, raw if isinstance(raw, str) else None)


@dataclass
class FormErrors:
    """Errors of one form: by field name (shown next to the input) and for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    status_code: int = 400

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @classmethod
    def of(
        cls,
        exc: AppError,
        inputs: tuple[str, ...],
        aliases: Mapping[str, str] | None = None,
    ) -> FormErrors:
        """Map the standard error `details` to the form's inputs.

        A detail's field is matched by its name, then by its first segment (`permissions[0]`
        belongs to `permissions`), then through `aliases` (API field name -> input name). A
        detail naming no input of the form, or an error without details, goes to the top.
        """
        out = cls(status_code=exc.status_code)
        for detail in exc.details or []:
            name = detail.get("field", "")
            message = detail.get("message", "is invalid")
            base = re.split(r"[\[.]", name, maxsplit=1)[0]
            target = (aliases or {}).get(name) or (aliases or {}).get(base) or base
            if target in inputs:
                out.fields.setdefault(target, message)
            else:
                out.general.append(f"{name} {message}".strip())
        if not exc.details:
            out.general.append(exc.message)
        return out


# ---- rendering ------------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The whole page, or only block `fragment` of the same template for an htmx request."""
    values: dict[str, Any] = {
        "request": request,
        "panel": getattr(request.state, "panel", None),
        "env": get_runtime(request).settings.env.value,
    }
    values.update(context or {})
    block = fragment if fragment and is_htmx(request) else None
    tz = values["panel"].tz if values["panel"] is not None else ZoneInfo("UTC")
    html = render_template(template, values, tz=tz, block=block)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def redirect(request: Request, url: str) -> Response:
    """303 after a successful POST; htmx follows `HX-Redirect` with a full page load."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    title = TITLES.get(status_code, "Something went wrong")
    headers = {"HX-Retarget": "#main", "HX-Reswap": "innerHTML"} if is_htmx(request) else None
    return render(
        request,
        "errors/error.html",
        {"status_code": status_code, "title": title, "message": message},
        fragment="content",
        status_code=status_code,
        headers=headers,
    )


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login" if target in ("/", "/logout") else f"/login?next={quote(target, safe='')}"
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


class PanelRoute(APIRoute):
    """Route class of every panel view: CSRF on unsafe methods and HTML error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                if request.method not in SAFE_METHODS:
                    await _check_csrf(request)
                return await handler(request)
            except LoginRequired:
                return _login_redirect(request)
            except AppError as exc:
                if exc.status_code >= 500:
                    log.warning("panel_error", status=exc.status_code, message=exc.message)
                return error_page(request, exc.status_code, exc.message)
            except RequestValidationError:
                return error_page(request, 400, "The request was not understood.")
            except Exception as exc:
                # A person gets a page, not the API's JSON body; the log has the traceback.
                if is_storage_unavailable(exc):
                    log.error("panel_storage_unavailable", path=request.url.path)
                    return error_page(request, 503, "The database is not answering. Try again.")
                log.exception("panel_unhandled_error", path=request.url.path)
                request_id = getattr(request.state, "request_id", "")
                return error_page(
                    request, 500, f"Something went wrong on our side (request {request_id})."
                )

        return run


def panel_router() -> APIRouter:
    """The router of one page family: its routes render HTML errors and check CSRF."""
    return APIRouter(include_in_schema=False, route_class=PanelRoute)


async def _check_csrf(request: Request) -> None:
    settings = get_runtime(request).settings
    token: object = request.headers.get(cookies.CSRF_HEADER)
    if token is None:
        token = (await read_form(request)).get(cookies.CSRF_FIELD)
    if not cookies.csrf_valid(request, settings, token if isinstance(token, str) else None):
        raise CsrfRefused()
