"""Result types: the tenant's task result types — list, create, edit, deactivate/reactivate."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from reten.activity_config import service
from reten.activity_config.models import ResultOutcome, TaskResultType
from reten.activity_config.schemas import TaskResultTypeCreate, TaskResultTypeUpdate
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
from reten.kit.errors import AppError, Conflict
from reten.kit.jsonbody import validate_body
from reten.kit.params import parse_bool, parse_uuid
from reten.runtime import DbSession

router = panel_router()

PATH = "/result-types"
INPUTS = ("code", "label", "requires_future_scheduled_at", "outcome", "sort_order")
VIEW = panel(Permission.VIEW_ACTIVITIES)
MANAGE = panel(Permission.MANAGE_ACTIVITY_CONFIG)


def _body(form: FormData, *, with_code: bool) -> dict[str, Any]:
    """The form as the API's JSON body: the schema is strict about booleans and integers."""
    body: dict[str, Any] = {
        "label": form.get("label", ""),
        "outcome": form.get("outcome", ""),
        # An unticked checkbox posts nothing: it means "no".
        "requires_future_scheduled_at": form.get("requires_future_scheduled_at") == "true",
    }
    if with_code:
        body["code"] = form.get("code", "")
    order = str(form.get("sort_order", "")).strip()
    if order:
        body["sort_order"] = int(order) if order.lstrip("-").isdigit() else order
    return body


def _errors(exc: AppError) -> FormErrors:
    errors = FormErrors.of(exc, INPUTS)
    if isinstance(exc, Conflict) and not exc.details:  # the only unique input is the code
        errors.general.remove(exc.message)
        errors.fields["code"] = exc.message
    return errors


async def _index(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    is_active = parse_bool("is_active", request.query_params.get("is_active") or None)
    types = await service.list_types(session, ctx.tenant_id, is_active=is_active)
    return render(
        request,
        "result_types/index.html",
        {
            "types": types,
            "is_active": request.query_params.get("is_active") or "",
            "outcomes": [o.value for o in ResultOutcome],
            "form": form or {"outcome": ResultOutcome.EFFECTIVE.value, "sort_order": ""},
            "errors": errors or FormErrors(),
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_types(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return await _index(request, ctx, session)


@router.post(PATH)
async def create_type(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    try:
        data = validate_body(TaskResultTypeCreate, _body(form, with_code=True))
        await service.create_type(session, ctx.tenant_id, data, actor=ctx.principal.actor())
    except AppError as exc:
        errors = _errors(exc)
        return await _index(
            request, ctx, session, form=dict(form), errors=errors, status_code=errors.status_code
        )
    return redirect(request, PATH)


def _edit(
    request: Request,
    item: TaskResultType,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    confirm: bool = False,
    status_code: int = 200,
) -> Response:
    shown = form or {
        "label": item.label,
        "outcome": item.outcome,
        "sort_order": item.sort_order,
        "requires_future_scheduled_at": "true" if item.requires_future_scheduled_at else "",
    }
    return render(
        request,
        "result_types/edit.html",
        {
            "item": item,
            "form": shown,
            "outcomes": [o.value for o in ResultOutcome],
            "errors": errors or FormErrors(),
            "confirm": confirm,
        },
        status_code=status_code,
    )


@router.get(PATH + "/{id}")
async def edit_type(
    request: Request, id: str, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return _edit(request, await service.get_type(session, ctx.tenant_id, parse_uuid("id", id)))


@router.post(PATH + "/{id}")
async def update_type(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    type_id = parse_uuid("id", id)
    form = await read_form(request)
    try:
        data = validate_body(TaskResultTypeUpdate, _body(form, with_code=False))
        await service.update_type(
            session, ctx.tenant_id, type_id, data, actor=ctx.principal.actor()
        )
    except AppError as exc:
        await session.rollback()
        item = await service.get_type(session, ctx.tenant_id, type_id)
        errors = _errors(exc)
        return _edit(request, item, form=dict(form), errors=errors, status_code=errors.status_code)
    return redirect(request, PATH)


async def _set_active(
    request: Request, ctx: Panel, session: AsyncSession, id: str, active: bool
) -> Response:
    type_id = parse_uuid("id", id)
    item = await service.get_type(session, ctx.tenant_id, type_id)
    if not active and not await confirmed(request):
        return _edit(request, item, confirm=True)
    await service.update_type(
        session,
        ctx.tenant_id,
        type_id,
        TaskResultTypeUpdate(is_active=active),
        actor=ctx.principal.actor(),
    )
    return redirect(request, PATH)


@router.post(PATH + "/{id}/deactivate")
async def deactivate_type(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return await _set_active(request, ctx, session, id, False)


@router.post(PATH + "/{id}/activate")
async def activate_type(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return await _set_active(request, ctx, session, id, True)
