"""Routes: list, create, edit, deactivate/reactivate; a route's page assigns its operators (LEAD
or MEMBER) and its commerces.

Every call is the service of the matching `/api/routes` endpoint (management-api.md §10): the
links are the API's idempotent links, so assigning an operator already on the route changes its
role (and reactivates an inactive link) instead of failing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.admin.listing import ListPage, list_state
from reten.admin.views.record_forms import body_of, errors_of
from reten.admin.web import (
    FormErrors,
    Panel,
    confirmed,
    panel,
    panel_router,
    read_form,
    redirect,
    render,
)
from reten.auth.permissions import Permission
from reten.commerces import queries as commerces
from reten.kit.errors import AppError, NotFound
from reten.kit.jsonbody import validate_body
from reten.kit.listing import parse_search
from reten.kit.pagination import PageParams
from reten.kit.params import parse_bool, parse_uuid
from reten.operators import service as operators
from reten.operators.schemas import check_text
from reten.routes import service
from reten.routes.models import RouteOperatorRole
from reten.routes.schemas import RouteCreate, RouteOperatorCreate, RouteUpdate
from reten.runtime import DbSession

router = panel_router()

PATH = "/routes"
INPUTS = ("name", "external_id", "description")
ROLES = [r.value for r in RouteOperatorRole]
# The operators offered by the assign form: the active ones, by name. When a tenant has more,
# the page offers a search (`operator_search` in the URL) that narrows the choices.
OPERATOR_CHOICES = 100
MANAGE = panel(Permission.MANAGE_ROUTES)


async def _list_page(request: Request, ctx: Panel, session: AsyncSession) -> ListPage:
    state = list_state(request, default_sort="name")
    filters = service.RouteFilters(
        search=check_text("search", parse_search(state.get("search"))),
        is_active=parse_bool("is_active", state.get("is_active")),
    )
    rows, total, estimate = await service.list_routes(
        session, ctx.tenant_id, filters, state.sort, state.page
    )
    return ListPage(rows, total, estimate, state)


async def _index(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "routes/index.html",
        {
            "routes": await _list_page(request, ctx, session),
            "form": form or {},
            "errors": errors or FormErrors(),
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_routes(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return await _index(request, ctx, session)


@router.post(PATH)
async def create_route(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    try:
        created = await service.create(
            session, ctx.tenant_id, validate_body(RouteCreate, body_of(form, INPUTS))
        )
    except AppError as exc:
        errors = errors_of(exc, INPUTS)
        return await _index(
            request, ctx, session, form=dict(form), errors=errors, status_code=errors.status_code
        )
    return redirect(request, f"{PATH}/{created.id}")


async def _detail(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    route_id: uuid.UUID,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    errors_for: str = "edit",
    assign: dict[str, Any] | None = None,
    confirm: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The route's page. `errors` belong to the form named by `errors_for` (edit, operator or
    commerce); `assign` keeps what was typed in an assign form that failed."""
    route = await service.detail(session, ctx.tenant_id, route_id)
    # The page's own URL, also when it answers a failed POST: the pager links stay on it.
    state = replace(list_state(request, default_sort="name"), path=f"{PATH}/{route_id}")
    rows, total, estimate = await commerces.list_commerces(
        session,
        ctx.tenant_id,
        commerces.CommerceFilters(route_id=route_id),
        sort="name",
        page=state.page,
    )
    operator_search = check_text(
        "operator_search", parse_search(request.query_params.get("operator_search") or None)
    )
    choices, choices_total, _ = await operators.list_operators(
        session,
        ctx.tenant_id,
        operators.OperatorFilters(is_active=True, search=operator_search),
        "name",
        PageParams(page=1, per_page=OPERATOR_CHOICES),
    )
    linked = {link.operator_id: link.role for link in route.operators if link.is_active}
    shown = form or {
        "name": route.name,
        "external_id": route.external_id,
        "description": route.description,
    }
    return render(
        request,
        "routes/detail.html",
        {
            "route": route,
            "commerces": ListPage(rows, total, estimate, state),
            "choices": [o for o in choices if o.id not in linked],
            "choices_more": choices_total > len(choices),  # before leaving out the linked
            "operator_search": operator_search or "",
            "roles": ROLES,
            "form": shown,
            "assign": assign or {"role": RouteOperatorRole.MEMBER.value},
            "errors": {
                name: (errors or FormErrors()) if name == errors_for else FormErrors()
                for name in ("edit", "operator", "commerce")
            },
            "confirm": confirm,
        },
        status_code=status_code,
    )


@router.get(PATH + "/{id}")
async def show_route(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return await _detail(request, ctx, session, parse_uuid("id", id))


@router.post(PATH + "/{id}")
async def update_route(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    route_id = parse_uuid("id", id)
    form = await read_form(request)
    try:
        body = body_of(
            form, INPUTS, empty_is_null=("external_id", "description"), required=("name",)
        )
        await service.update_route(
            session, ctx.tenant_id, route_id, validate_body(RouteUpdate, body)
        )
    except AppError as exc:
        await session.rollback()
        errors = errors_of(exc, INPUTS)
        return await _detail(
            request,
            ctx,
            session,
            route_id,
            form=dict(form),
            errors=errors,
            status_code=errors.status_code,
        )
    return redirect(request, f"{PATH}/{route_id}")


@router.post(PATH + "/{id}/deactivate")
async def deactivate_route(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    route_id = parse_uuid("id", id)
    if not await confirmed(request):
        route = await service.get(session, ctx.tenant_id, route_id)
        ask = {
            "title": f"Deactivate {route.name}?",
            "text": "New tasks can no longer use it; its operators and commerces stay linked.",
            "action": f"{PATH}/{route_id}/deactivate",
            "button": "Deactivate",
        }
        return await _detail(request, ctx, session, route_id, confirm=ask)
    await service.deactivate(session, ctx.tenant_id, route_id)
    return redirect(request, f"{PATH}/{route_id}")


@router.post(PATH + "/{id}/activate")
async def activate_route(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    route_id = parse_uuid("id", id)
    await service.update_route(session, ctx.tenant_id, route_id, RouteUpdate(is_active=True))
    return redirect(request, f"{PATH}/{route_id}")


# --- operators of the route ------------------------------------------------------------------


@router.post(PATH + "/{id}/operators")
async def assign_operator(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    """Add an operator with a role, or change the role of one already on the route."""
    route = await service.get(session, ctx.tenant_id, parse_uuid("id", id))
    route_id = route.id
    form = await read_form(request)
    try:
        body = body_of(form, ("operator_id", "role"))
        await service.link_operator(
            session, ctx.tenant_id, route, validate_body(RouteOperatorCreate, body)
        )
    except AppError as exc:
        await session.rollback()
        errors = errors_of(exc, ("operator_id", "role"))
        if isinstance(exc, NotFound):  # the chosen operator (another tenant's, or gone)
            errors.general.remove(exc.message)
            errors.fields["operator_id"] = exc.message
        return await _detail(
            request,
            ctx,
            session,
            route_id,
            errors=errors,
            errors_for="operator",
            assign=dict(form),
            status_code=errors.status_code,
        )
    return redirect(request, f"{PATH}/{route_id}")


@router.post(PATH + "/{id}/operators/{operator_id}/remove")
async def remove_operator(
    request: Request,
    id: str,
    operator_id: str,
    ctx: Panel = Depends(MANAGE),
    session: AsyncSession = DbSession,
) -> Response:
    route_id = parse_uuid("id", id)
    op_id = parse_uuid("operator_id", operator_id)
    if not await confirmed(request):
        route = await service.get(session, ctx.tenant_id, route_id)
        operator = await operators.get(session, ctx.tenant_id, op_id)
        ask = {
            "title": f"Remove {operator.name or 'this operator'} from {route.name}?",
            "text": "The link is deleted; tasks already assigned keep their operator.",
            "action": f"{PATH}/{route_id}/operators/{op_id}/remove",
            "button": "Remove",
        }
        return await _detail(request, ctx, session, route_id, confirm=ask)
    await service.unlink_operator(session, ctx.tenant_id, route_id, op_id)
    return redirect(request, f"{PATH}/{route_id}")


# --- commerces of the route ------------------------------------------------------------------


@router.post(PATH + "/{id}/commerces")
async def assign_commerce(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    route = await service.get(session, ctx.tenant_id, parse_uuid("id", id))
    route_id = route.id
    form = await read_form(request)
    external_id = str(form.get("commerce_external_id") or "")
    try:
        await service.link_commerce_by_external_id(session, ctx.tenant_id, route, external_id)
    except AppError as exc:
        await session.rollback()
        errors = errors_of(exc, ("commerce_external_id",))
        return await _detail(
            request,
            ctx,
            session,
            route_id,
            errors=errors,
            errors_for="commerce",
            assign={"commerce_external_id": external_id, "role": RouteOperatorRole.MEMBER.value},
            status_code=errors.status_code,
        )
    return redirect(request, f"{PATH}/{route_id}")


@router.post(PATH + "/{id}/commerces/{commerce_id}/remove")
async def remove_commerce(
    request: Request,
    id: str,
    commerce_id: str,
    ctx: Panel = Depends(MANAGE),
    session: AsyncSession = DbSession,
) -> Response:
    route_id = parse_uuid("id", id)
    c_id = parse_uuid("commerce_id", commerce_id)
    if not await confirmed(request):
        route = await service.get(session, ctx.tenant_id, route_id)
        commerce = await commerces.get_commerce(session, ctx.tenant_id, c_id)
        ask = {
            "title": f"Remove {commerce.name} from {route.name}?",
            "text": "The commerce leaves the route; its activities are not changed.",
            "action": f"{PATH}/{route_id}/commerces/{c_id}/remove",
            "button": "Remove",
        }
        return await _detail(request, ctx, session, route_id, confirm=ask)
    await service.unlink_commerce(session, ctx.tenant_id, route_id, c_id)
    return redirect(request, f"{PATH}/{route_id}")
