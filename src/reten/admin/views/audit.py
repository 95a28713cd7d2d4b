"""Settings → Audit log: the tenant's audit trail, newest first, with the filters of
`GET /api/audit-events` (action, actor, target, time) in the URL."""

from __future__ import annotations

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.admin.listing import ListPage, list_state
from reten.admin.web import Panel, local_filter, panel, panel_router, render
from reten.audit import service
from reten.audit.models import AuditAction, AuditTargetType
from reten.auth.permissions import Permission
from reten.kit.actor import ActorType
from reten.kit.errors import ValidationFailed
from reten.kit.params import parse_enum, parse_optional_uuid
from reten.runtime import DbSession

router = panel_router()

PATH = "/settings/audit"
VIEW = panel(Permission.VIEW_AUDIT_LOG)
ACTIONS = [a.value for a in AuditAction]
ACTOR_TYPES = [t.value for t in ActorType]
TARGET_TYPES = [t.value for t in AuditTargetType]
# Targets that have a page of their own in the panel.
TARGET_PAGES = {
    AuditTargetType.USER.value: "/settings/users/",
    AuditTargetType.TASK_RESULT_TYPE.value: "/result-types/",
}


@router.get(PATH)
async def list_events(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    state = list_state(request, default_sort="-occurred_at")
    start = local_filter(state.get("occurred_from"), "occurred_from", ctx.tz)
    end = local_filter(state.get("occurred_to"), "occurred_to", ctx.tz)
    if start and end and start > end:
        raise ValidationFailed.one("occurred_to", "must not be before occurred_from")
    action = parse_enum("action", state.get("action"), ACTIONS)
    actor_type = parse_enum("actor_type", state.get("actor_type"), ACTOR_TYPES)
    target_type = parse_enum("target_type", state.get("target_type"), TARGET_TYPES)
    actor_id, target_id = state.get("actor_id"), state.get("target_id")
    filters = service.AuditFilters(
        action=AuditAction(action) if action else None,
        actor_type=ActorType(actor_type) if actor_type else None,
        actor_id=parse_optional_uuid("actor_id", actor_id),
        target_type=AuditTargetType(target_type) if target_type else None,
        target_id=parse_optional_uuid("target_id", target_id),
        occurred_from=start,
        occurred_to=end,
    )
    rows, total, estimate = await service.list_events(
        session, ctx.tenant_id, filters, state.page, sort=state.sort
    )
    return render(
        request,
        "audit/index.html",
        {
            "events": ListPage(rows, total, estimate, state),
            "actions": ACTIONS,
            "actor_types": ACTOR_TYPES,
            "target_types": TARGET_TYPES,
            "target_pages": TARGET_PAGES,
        },
        fragment="list",
    )
