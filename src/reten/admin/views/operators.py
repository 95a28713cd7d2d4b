"""Operators: the tenant's field staff — list, create, edit, deactivate/reactivate.

Every call is the service of the matching `/api/operators` endpoint (management-api.md §9), with
the API's schemas, so the panel accepts and refuses exactly what the API does.
"""

from __future__ import annotations

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
from reten.kit.errors import AppError
from reten.kit.jsonbody import validate_body
from reten.kit.listing import parse_search
from reten.kit.params import parse_bool, parse_enum, parse_uuid
from reten.operators import service
from reten.operators.models import Operator, OperatorType
from reten.operators.schemas import OperatorCreate, OperatorRouteRead, OperatorUpdate, check_text
from reten.runtime import DbSession

router = panel_router()

PATH = "/operators"
CREATE_INPUTS = ("type", "name", "email", "phone", "external_id")
EDIT_INPUTS = ("name", "email", "phone")
TYPES = [t.value for t in OperatorType]
# The API's permission for every operator endpoint, reads included.
MANAGE = panel(Permission.MANAGE_OPERATORS)


async def _list_page(request: Request, ctx: Panel, session: AsyncSession) -> ListPage:
    state = list_state(request, default_sort="name")
    type_value = parse_enum("type", state.get("type"), TYPES)
    filters = service.OperatorFilters(
        search=check_text("search", parse_search(state.get("search"))),
        type=OperatorType(type_value) if type_value else None,
        is_active=parse_bool("is_active", state.get("is_active")),
    )
    rows, total, estimate = await service.list_operators(
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
        "operators/index.html",
        {
            "operators": await _list_page(request, ctx, session),
            "types": TYPES,
            "form": form or {"type": OperatorType.SALESMAN.value},
            "errors": errors or FormErrors(),
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_operators(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return await _index(request, ctx, session)


@router.post(PATH)
async def create_operator(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    try:
        data = validate_body(OperatorCreate, body_of(form, CREATE_INPUTS))
        operator = await service.create(session, ctx.tenant_id, data)
    except AppError as exc:
        errors = errors_of(exc, CREATE_INPUTS)
        return await _index(
            request, ctx, session, form=dict(form), errors=errors, status_code=errors.status_code
        )
    return redirect(request, f"{PATH}/{operator.id}")


def _detail(
    request: Request,
    operator: Operator,
    routes: list[OperatorRouteRead],
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    confirm: bool = False,
    status_code: int = 200,
) -> Response:
    shown = form or {"name": operator.name, "email": operator.email, "phone": operator.phone}
    return render(
        request,
        "operators/detail.html",
        {
            "operator": operator,
            "routes": routes,
            "form": shown,
            "errors": errors or FormErrors(),
            "confirm": confirm,
        },
        status_code=status_code,
    )


@router.get(PATH + "/{id}")
async def show_operator(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    operator, routes = await service.detail(session, ctx.tenant_id, parse_uuid("id", id))
    return _detail(request, operator, routes)


@router.post(PATH + "/{id}")
async def update_operator(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    operator_id = parse_uuid("id", id)
    form = await read_form(request)
    try:
        body = body_of(form, EDIT_INPUTS, empty_is_null=("email", "phone"), required=("name",))
        await service.update_operator(
            session, ctx.tenant_id, operator_id, validate_body(OperatorUpdate, body)
        )
    except AppError as exc:
        await session.rollback()
        operator, routes = await service.detail(session, ctx.tenant_id, operator_id)
        errors = errors_of(exc, EDIT_INPUTS)
        return _detail(
            request,
            operator,
            routes,
            form=dict(form),
            errors=errors,
            status_code=errors.status_code,
        )
    return redirect(request, f"{PATH}/{operator_id}")


@router.post(PATH + "/{id}/deactivate")
async def deactivate_operator(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    operator_id = parse_uuid("id", id)
    operator, routes = await service.detail(session, ctx.tenant_id, operator_id)
    if not await confirmed(request):
        return _detail(request, operator, routes, confirm=True)
    await service.deactivate(session, ctx.tenant_id, operator_id)
    return redirect(request, f"{PATH}/{operator_id}")


@router.post(PATH + "/{id}/activate")
async def activate_operator(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    operator_id = parse_uuid("id", id)
    await service.update_operator(
        session, ctx.tenant_id, operator_id, OperatorUpdate(is_active=True)
    )
    return redirect(request, f"{PATH}/{operator_id}")
