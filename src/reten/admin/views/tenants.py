"""Tenants (super admin): the list, and setting up a tenant with its first administrator.

Setting up is `POST /api/tenant/setup`'s service. An empty password box means "generate one":
it is shown once, in the response of the request that set it, like a new user's on the Users
page. An email that already belongs to an administrator makes that user a member of the new
tenant; their password does not change.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.admin.listing import ListPage, list_state
from reten.admin.views.record_forms import body_of, errors_of
from reten.admin.web import FormErrors, Panel, panel, panel_router, read_form, render
from reten.auth.permissions import Permission
from reten.kit.errors import AppError
from reten.kit.jsonbody import validate_body
from reten.kit.listing import parse_search
from reten.runtime import DbSession
from reten.tenants import service
from reten.tenants.models import Locale
from reten.tenants.schemas import TenantSetup
from reten.users import service as users

router = panel_router()

PATH = "/settings/tenants"
INPUTS = (
    "name",
    "slug",
    "locale",
    "time_zone",
    "admin_email",
    "admin_first_name",
    "admin_last_name",
    "admin_password",
)
# Only a SUPER_ADMIN holds CREATE_TENANT; it may have no tenant of its own yet.
SUPER = panel(Permission.CREATE_TENANT, tenant=False)
DEFAULTS = {"locale": Locale.ES.value, "time_zone": "America/Santiago"}


async def _index(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    state = list_state(request, default_sort="name")
    rows, total, estimate = await service.list_page(
        session,
        ctx.principal,
        search=parse_search(state.get("search")),
        sort=state.sort,
        page=state.page,
    )
    return render(
        request,
        "tenants/index.html",
        {
            "tenants": ListPage(rows, total, estimate, state),
            "locales": [locale.value for locale in Locale],
            "form": form or DEFAULTS,
            "errors": errors or FormErrors(),
            "created": created,
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_tenants(
    request: Request, ctx: Panel = Depends(SUPER), session: AsyncSession = DbSession
) -> Response:
    return await _index(request, ctx, session)


@router.post(PATH)
async def setup_tenant(
    request: Request, ctx: Panel = Depends(SUPER), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    shown = {k: form.get(k, "") for k in INPUTS if k != "admin_password"}
    body = body_of(form, INPUTS)
    generated = "admin_password" not in body
    if generated:
        body["admin_password"] = users.temporary_password()
    try:
        data = validate_body(TenantSetup, body)
        existing = await users.get_by_email(session, data.admin_email)
        tenant = await service.setup_tenant(session, data, actor=ctx.principal.actor())
    except AppError as exc:
        await session.rollback()
        errors = errors_of(exc, INPUTS)
        return await _index(
            request, ctx, session, form=shown, errors=errors, status_code=errors.status_code
        )
    created = {
        "tenant": tenant,
        "admin_email": data.admin_email,
        "existing_admin": existing is not None,
        # The one response that carries a generated password: never stored, never shown again.
        "password": body["admin_password"] if generated and existing is None else None,
    }
    return await _index(request, ctx, session, created=created, status_code=201)
