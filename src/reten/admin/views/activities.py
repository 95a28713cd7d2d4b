"""Activities: the filterable list, one activity's page with its actions, and creation.

The list calls the same service as `GET /api/activities`; each action calls the service of its
API endpoint (cancel 11.x, retry-dispatch 11.13, resend 14.15, retry-resolution 11.8), so the
panel refuses exactly what the API refuses.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from reten.activities import resolution_actions, service
from reten.activities.lifecycle import ActivityStatus
from reten.activities.models import ActivityType, Channel
from reten.activities.schemas import ActivityCancel, ActivityCreate
from reten.activities.views import activity_item
from reten.activity_detail.service import detail_or_404
from reten.admin.listing import ListPage, list_state
from reten.admin.web import (
    FormErrors,
    Panel,
    confirmed,
    local_filter,
    local_timestamp,
    panel,
    panel_router,
    parse_form,
    read_form,
    redirect,
    render,
)
from reten.auth.permissions import Permission
from reten.dispatch import service as dispatch_configs
from reten.dispatch.actions import DispatchService
from reten.kit.errors import AppError, ValidationFailed
from reten.kit.listing import parse_search
from reten.kit.params import parse_enum, parse_enum_list, parse_uuid
from reten.resolution import service as resolution
from reten.resolution.endpoint_schemas import ActivityAttributeRead, TargetUserRead
from reten.runtime import DbSession

router = panel_router()

PATH = "/activities"
VIEW = panel(Permission.VIEW_ACTIVITIES)
CREATE = panel(Permission.CREATE_ACTIVITY)
CANCEL = panel(Permission.CANCEL_ACTIVITY)
DISPATCH = panel(Permission.DISPATCH_ACTIVITY)

STATUSES = [s.value for s in ActivityStatus]
TYPES = [t.value for t in ActivityType]
CHANNELS = [c.value for c in Channel]
CREATE_INPUTS = (
    "type",
    "channel",
    "reason",
    "commerce_id",
    "idempotency_key",
    "scheduled_at",
    "assigned_route_id",
    "assigned_operator_id",
    "score",
    "assignment_reason",
)
OPTIONAL = ("assigned_route_id", "assigned_operator_id", "score", "assignment_reason")


async def _list_page(request: Request, ctx: Panel, session: AsyncSession) -> ListPage:
    state = list_state(request, default_sort="-created_at")
    start = local_filter(state.get("scheduled_from"), "scheduled_from", ctx.tz)
    end = local_filter(state.get("scheduled_to"), "scheduled_to", ctx.tz)
    if start and end and start > end:
        raise ValidationFailed.one("scheduled_from", "must not be after scheduled_to")
    ids = {
        name: parse_uuid(name, raw) if (raw := state.get(name)) else None
        for name in ("commerce_id", "operator_id", "route_id")
    }
    filters = service.ActivityFilters(
        statuses=tuple(parse_enum_list("status", state.get("status"), STATUSES) or ()),
        type=parse_enum("type", state.get("type"), TYPES),
        channel=parse_enum("channel", state.get("channel"), CHANNELS),
        commerce_id=ids["commerce_id"],
        operator_id=ids["operator_id"],
        route_id=ids["route_id"],
        scheduled_from=start,
        scheduled_to=end,
        search=parse_search(state.get("search")),
    )
    rows, total, estimate = await service.list_activities(
        session, ctx.tenant_id, filters, state.sort, state.page
    )
    return ListPage([activity_item(r) for r in rows], total, estimate, state)


@router.get(PATH)
async def list_activities(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    activities = await _list_page(request, ctx, session)
    return render(
        request,
        "activities/index.html",
        {"activities": activities, "statuses": STATUSES, "types": TYPES, "channels": CHANNELS},
        fragment="list",
    )


def _create_page(
    request: Request,
    form: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/new.html",
        {"form": form, "errors": errors or FormErrors(), "types": TYPES, "channels": CHANNELS},
        status_code=status_code,
    )


@router.get(PATH + "/new")
async def new_activity(request: Request, ctx: Panel = Depends(CREATE)) -> Response:
    return _create_page(request, {"type": "TASK", "idempotency_key": f"panel-{uuid.uuid4()}"})


@router.post(PATH)
async def create_activity(
    request: Request, ctx: Panel = Depends(CREATE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    shown = {name: form.get(name, "") for name in CREATE_INPUTS}
    try:
        data = parse_form(
            ActivityCreate, local_timestamp(form, "scheduled_at", ctx.tz), optional=OPTIONAL
        )
        activity = await service.create_activity(
            session, ctx.tenant_id, service.input_of(data), ctx.principal.actor()
        )
    except AppError as exc:
        errors = FormErrors.of(exc, CREATE_INPUTS)
        return _create_page(request, shown, errors, status_code=errors.status_code)
    return redirect(request, f"{PATH}/{activity.id}")


async def _detail_page(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    activity_id: uuid.UUID,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = await detail_or_404(session, ctx.tenant_id, activity_id)
    # Found (or 404) once, above: each part below would check again.
    targets = await resolution.target_users_of(session, ctx.tenant_id, activity_id)
    attributes = await resolution.attributes_of(session, ctx.tenant_id, activity_id)
    attempts = await dispatch_configs.attempts_of(session, ctx.tenant_id, activity_id)
    return render(
        request,
        "activities/detail.html",
        {
            "a": detail,
            "allowed": service.allowed_actions(detail),
            "targets": [TargetUserRead.of(v) for v in targets],
            "attributes": [ActivityAttributeRead.of(r, k) for r, k in attributes],
            "attempts": attempts,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get(PATH + "/{id}")
async def show_activity(
    request: Request, id: str, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return await _detail_page(request, ctx, session, parse_uuid("id", id))


@router.post(PATH + "/{id}/cancel")
async def cancel_activity(
    request: Request, id: str, ctx: Panel = Depends(CANCEL), session: AsyncSession = DbSession
) -> Response:
    activity_id = parse_uuid("id", id)
    form = await read_form(request)
    if not await confirmed(request):
        # Without JavaScript the button lands here: ask before canceling.
        detail = await detail_or_404(session, ctx.tenant_id, activity_id)
        return render(request, "activities/cancel.html", {"a": detail})
    data = parse_form(
        ActivityCancel, FormData([("reason", form.get("reason", ""))]), optional=("reason",)
    )
    await service.cancel_activity(
        session, ctx.tenant_id, activity_id, ctx.principal.actor(), data.reason
    )
    return redirect(request, f"{PATH}/{activity_id}")


@router.post(PATH + "/{id}/retry-dispatch")
async def retry_dispatch(
    request: Request, id: str, ctx: Panel = Depends(DISPATCH), session: AsyncSession = DbSession
) -> Response:
    activity_id = parse_uuid("id", id)
    await _dispatch(request).retry_dispatch(
        session, ctx.tenant_id, activity_id, ctx.principal.actor()
    )
    return redirect(request, f"{PATH}/{activity_id}")


@router.post(PATH + "/{id}/resend")
async def resend(
    request: Request, id: str, ctx: Panel = Depends(DISPATCH), session: AsyncSession = DbSession
) -> Response:
    activity_id = parse_uuid("id", id)
    await _dispatch(request).resend(ctx.tenant_id, activity_id)
    return await _detail_page(
        request,
        ctx,
        session,
        activity_id,
        notice="Sent again; the attempt appears in the log.",
        status_code=202,
    )


@router.post(PATH + "/{id}/retry-resolution")
async def retry_resolution(
    request: Request, id: str, ctx: Panel = Depends(CREATE), session: AsyncSession = DbSession
) -> Response:
    activity_id = parse_uuid("id", id)
    await resolution_actions.retry_resolution(
        session, ctx.tenant_id, activity_id, ctx.principal.actor()
    )
    return redirect(request, f"{PATH}/{activity_id}")


def _dispatch(request: Request) -> DispatchService:
    # Wired by the app factory, as for the API's dispatch actions.
    return request.app.state.dispatch  # type: ignore[no-any-return]
