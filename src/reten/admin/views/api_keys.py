"""Settings → API keys: list, create (the plaintext shown once), revoke with confirmation."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.admin.listing import ListPage, list_state
from reten.admin.web import (
    FormErrors,
    Panel,
    confirmed,
    is_htmx,
    local_timestamp,
    panel,
    panel_router,
    parse_form,
    read_form,
    redirect,
    render,
)
from reten.api_keys import service
from reten.api_keys.schemas import ApiKeyCreate
from reten.auth.permissions import Permission, sort_permissions
from reten.kit.errors import AppError, ValidationFailed
from reten.kit.params import parse_bool, parse_uuid
from reten.runtime import DbSession, get_runtime

router = panel_router()

PATH = "/settings/api-keys"
INPUTS = ("name", "permissions", "expires_at")
MANAGE = panel(Permission.MANAGE_API_KEYS)


async def _list_page(request: Request, ctx: Panel, session: AsyncSession) -> ListPage:
    state = list_state(request, default_sort="-created_at")
    raw_status = state.get("status")
    try:
        status = service.KeyStatus(raw_status) if raw_status else None
    except ValueError:
        raise ValidationFailed.one("status", "must be active, expired or revoked") from None
    items, total, estimate = await service.list_keys_page(
        session,
        ctx.principal,
        all_keys=parse_bool("all", state.get("all")) or False,
        status=status,
        sort=state.sort,
        page=state.page,
    )
    return ListPage(items, total, estimate, state)


def _page(
    request: Request,
    ctx: Panel,
    keys: ListPage,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    created: Any = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "api_keys/index.html",
        {
            "keys": keys,
            # Only permissions the caller holds can be granted (the service refuses others).
            "grantable": sort_permissions(ctx.principal.permissions),
            "may_list_all": service.may_list_all_keys(ctx.principal),
            "form": form or {"permissions": []},
            "errors": errors or FormErrors(),
            "created": created,
        },
        fragment="list",
        status_code=status_code,
    )


@router.get(PATH)
async def list_keys(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    return _page(request, ctx, await _list_page(request, ctx, session))


@router.post(PATH)
async def create_key(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    shown = {
        "name": form.get("name", ""),
        "permissions": form.getlist("permissions"),
        "expires_at": form.get("expires_at", ""),
    }
    try:
        data = parse_form(
            ApiKeyCreate,
            local_timestamp(form, "expires_at", ctx.tz),
            lists=("permissions",),
            optional=("expires_at",),
        )
        key, plaintext = await service.create_key(
            session,
            tenant_id=ctx.tenant_id,
            owner_id=ctx.principal.user_id,
            owner_permissions=ctx.principal.permissions,
            name=data.name,
            permissions=data.permissions,
            expires_at=data.expires_at,
            actor=ctx.principal.actor(),
        )
    except AppError as exc:
        errors = FormErrors.of(exc, INPUTS)
        keys = await _list_page(request, ctx, session)
        return _page(request, ctx, keys, form=shown, errors=errors, status_code=errors.status_code)
    # The one response that carries the plaintext: rendered now, never stored, never again.
    keys = await _list_page(request, ctx, session)
    return _page(request, ctx, keys, created={"key": key, "plaintext": plaintext}, status_code=201)


@router.get(PATH + "/{id}/revoke")
async def confirm_revoke(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    row = await service.get_key_row(session, ctx.principal, parse_uuid("id", id))
    return render(request, "api_keys/revoke.html", {"row": row})


@router.post(PATH + "/{id}/revoke")
async def revoke_key(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    key_id = parse_uuid("id", id)
    form = await read_form(request)
    if not await confirmed(request):
        # Without JavaScript the row's button lands here: ask before acting.
        return await confirm_revoke(request, id, ctx, session)
    await service.revoke_key(session, ctx.principal, key_id, get_runtime(request).api_key_cache)
    if is_htmx(request):
        row = await service.get_key_row(session, ctx.principal, key_id)
        # The row replaces itself in the list, with the list's columns.
        return render(
            request, "api_keys/_row.html", {"row": row, "show_owner": form.get("all") == "true"}
        )
    return redirect(request, PATH)
