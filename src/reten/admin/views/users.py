"""Settings → Users: the tenant's users, create, roles, reset password, deactivate/reactivate.

A new or reset password is generated here and shown once, in the response of the request that
set it (like an API key's plaintext); Reten keeps only its hash.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from reten.admin.listing import ListPage, list_state
from reten.admin.web import (
    FormErrors,
    Panel,
    confirmed,
    panel,
    panel_router,
    parse_form,
    read_form,
    redirect,
    render,
)
from reten.auth.permissions import Permission, Role
from reten.kit.errors import AppError, Conflict
from reten.kit.listing import parse_search
from reten.kit.params import parse_bool, parse_enum, parse_uuid
from reten.runtime import DbSession
from reten.users import service
from reten.users.models import User
from reten.users.schemas import RolesUpdate, UserCreate

router = panel_router()

PATH = "/settings/users"
INPUTS = ("email", "password", "first_name", "last_name", "roles")
VIEW = panel(Permission.VIEW_USERS)
CREATE = panel(Permission.CREATE_USER)
UPDATE = panel(Permission.UPDATE_USER)
RESET = panel(Permission.RESET_USER_PASSWORD)


def _errors(exc: AppError, inputs: tuple[str, ...], conflict_field: str) -> FormErrors:
    errors = FormErrors.of(exc, inputs)
    # The service's 409 names no field; the only unique input of these forms is the email.
    if isinstance(exc, Conflict) and not exc.details:
        errors.general.remove(exc.message)
        errors.fields[conflict_field] = exc.message
    return errors


async def _list_page(request: Request, ctx: Panel, session: AsyncSession) -> ListPage:
    state = list_state(request, default_sort="email")
    items, total, estimate = await service.list_members(
        session,
        ctx.tenant_id,
        search=parse_search(state.get("search")),
        role=parse_enum("role", state.get("role"), [r.value for r in Role]),
        is_active=parse_bool("is_active", state.get("is_active")),
        sort=state.sort,
        page=state.page,
    )
    rows = [{"user": u, "may_manage": service.may_manage(ctx.principal, u)} for u in items]
    return ListPage(rows, total, estimate, state)


def _index(
    request: Request,
    ctx: Panel,
    users: ListPage,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    created: Any = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users/index.html",
        {
            "users": users,
            "roles": [r.value for r in Role],
            "grantable": service.grantable_roles(ctx.principal),
            "form": form or {"roles": []},
            "errors": errors or FormErrors(),
            "created": created,
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_users(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return _index(request, ctx, await _list_page(request, ctx, session))


@router.post(PATH)
async def create_user(
    request: Request, ctx: Panel = Depends(CREATE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    shown: dict[str, Any] = {k: form.get(k, "") for k in ("email", "first_name", "last_name")}
    shown["roles"] = form.getlist("roles")
    # An empty password box means "generate one": it is shown once, below.
    password = str(form.get("password") or "") or service.temporary_password()
    generated = not form.get("password")
    try:
        data = parse_form(
            UserCreate,
            FormData(
                [
                    *((k, v) for k, v in form.multi_items() if k != "password"),
                    ("password", password),
                ]
            ),
            lists=("roles",),
        )
        user = await service.create_member(
            session,
            ctx.tenant_id,
            ctx.principal,
            email=data.email,
            password=data.password,
            first_name=data.first_name,
            last_name=data.last_name,
            roles=[r.value for r in data.roles],
        )
    except AppError as exc:
        errors = _errors(exc, INPUTS, "email")
        users = await _list_page(request, ctx, session)
        return _index(
            request, ctx, users, form=shown, errors=errors, status_code=errors.status_code
        )
    users = await _list_page(request, ctx, session)
    created = {"user": user, "password": password if generated else None}
    return _index(request, ctx, users, created=created, status_code=201)


def _detail(
    request: Request,
    ctx: Panel,
    user: User,
    *,
    errors: FormErrors | None = None,
    new_password: str | None = None,
    confirm: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users/detail.html",
        {
            "user": user,
            "may_manage": service.may_manage(ctx.principal, user),
            "grantable": service.grantable_roles(ctx.principal),
            "errors": errors or FormErrors(),
            "new_password": new_password,
            "confirm": confirm,
        },
        status_code=status_code,
    )


async def _member(session: AsyncSession, ctx: Panel, id: str) -> User:
    return await service.get_member(session, ctx.tenant_id, parse_uuid("id", id))


@router.get(PATH + "/{id}")
async def show_user(
    request: Request, id: str, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return _detail(request, ctx, await _member(session, ctx, id))


@router.post(PATH + "/{id}/roles")
async def set_roles(
    request: Request, id: str, ctx: Panel = Depends(UPDATE), session: AsyncSession = DbSession
) -> Response:
    user_id = parse_uuid("id", id)
    form = await read_form(request)
    try:
        data = parse_form(RolesUpdate, form, lists=("roles",))
        await service.set_roles(
            session, ctx.tenant_id, ctx.principal, user_id, [r.value for r in data.roles]
        )
    except AppError as exc:
        await session.rollback()
        user = await service.get_member(session, ctx.tenant_id, user_id)
        errors = _errors(exc, ("roles",), "roles")
        return _detail(request, ctx, user, errors=errors, status_code=errors.status_code)
    return redirect(request, f"{PATH}/{user_id}")


@router.post(PATH + "/{id}/reset-password")
async def reset_password(
    request: Request, id: str, ctx: Panel = Depends(RESET), session: AsyncSession = DbSession
) -> Response:
    user = await _member(session, ctx, id)
    if not await confirmed(request):
        return _detail(request, ctx, user, confirm="reset-password")
    password = service.temporary_password()
    await service.reset_password(session, ctx.tenant_id, ctx.principal, user.id, password)
    # The one response that carries the new password: rendered now, never stored, never again.
    return _detail(request, ctx, user, new_password=password)


async def _set_active(
    request: Request, ctx: Panel, session: AsyncSession, id: str, active: bool
) -> Response:
    user = await _member(session, ctx, id)
    if not active and not await confirmed(request):
        return _detail(request, ctx, user, confirm="deactivate")
    try:
        await service.update_member(
            session,
            ctx.tenant_id,
            ctx.principal,
            user.id,
            first_name=None,
            last_name=None,
            is_active=active,
        )
    except AppError as exc:
        await session.rollback()
        user = await service.get_member(session, ctx.tenant_id, user.id)
        errors = FormErrors.of(exc, ())
        return _detail(request, ctx, user, errors=errors, status_code=errors.status_code)
    return redirect(request, f"{PATH}/{user.id}")


@router.post(PATH + "/{id}/deactivate")
async def deactivate_user(
    request: Request, id: str, ctx: Panel = Depends(UPDATE), session: AsyncSession = DbSession
) -> Response:
    return await _set_active(request, ctx, session, id, False)


@router.post(PATH + "/{id}/activate")
async def activate_user(
    request: Request, id: str, ctx: Panel = Depends(UPDATE), session: AsyncSession = DbSession
) -> Response:
    return await _set_active(request, ctx, session, id, True)
