"""GET /api/audit-events: the tenant's audit trail, newest first (docs/audit.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.audit import service
from reten.audit.models import AuditAction, AuditTargetType
from reten.audit.schemas import AuditEventPage, AuditEventRead
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.actor import ActorType
from reten.kit.errors import ValidationFailed
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_TIMESTAMP,
    AS_UUID,
    as_one_of,
    parse_enum,
    parse_optional_uuid,
    parse_timestamp,
)
from reten.kit.responses import json_response
from reten.runtime import DbSession

router = APIRouter(tags=["Audit"])

DEFAULT_PER_PAGE = 25


@router.get("/api/audit-events", response_model=AuditEventPage)
async def list_audit_events(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_AUDIT_LOG)),
    page: Annotated[str | None, Query(description="≥ 1, default 1"), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(description="1-100, default 25"), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(description="alias of per_page"), AS_PER_PAGE] = None,
    action: Annotated[
        str | None,
        Query(description="one action, e.g. api_key.created"),
        as_one_of([a.value for a in AuditAction]),
    ] = None,
    actor_type: Annotated[
        str | None,
        Query(description="USER, API_KEY, SYSTEM"),
        as_one_of([t.value for t in ActorType]),
    ] = None,
    actor_id: Annotated[
        str | None, Query(description="a user's or an API key's id"), AS_UUID
    ] = None,
    target_type: Annotated[
        str | None,
        Query(description="e.g. dispatch_config"),
        as_one_of([t.value for t in AuditTargetType]),
    ] = None,
    target_id: Annotated[str | None, Query(), AS_UUID] = None,
    occurred_from: Annotated[str | None, Query(description="inclusive"), AS_TIMESTAMP] = None,
    occurred_to: Annotated[str | None, Query(description="inclusive"), AS_TIMESTAMP] = None,
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=DEFAULT_PER_PAGE)
    action_value = parse_enum("action", action, [a.value for a in AuditAction])
    actor_type_value = parse_enum("actor_type", actor_type, [t.value for t in ActorType])
    target_type_value = parse_enum("target_type", target_type, [t.value for t in AuditTargetType])
    filters = service.AuditFilters(
        action=AuditAction(action_value) if action_value else None,
        actor_type=ActorType(actor_type_value) if actor_type_value else None,
        actor_id=parse_optional_uuid("actor_id", actor_id),
        target_type=AuditTargetType(target_type_value) if target_type_value else None,
        target_id=parse_optional_uuid("target_id", target_id),
        occurred_from=parse_timestamp("occurred_from", occurred_from),
        occurred_to=parse_timestamp("occurred_to", occurred_to),
    )
    if (
        filters.occurred_from is not None
        and filters.occurred_to is not None
        and filters.occurred_from > filters.occurred_to
    ):
        raise ValidationFailed.one("occurred_to", "must not be before occurred_from")
    rows, total, estimate = await service.list_events(
        session, principal.require_tenant(), filters, params
    )
    data = [AuditEventRead.of(e).model_dump(mode="json") for e in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))
