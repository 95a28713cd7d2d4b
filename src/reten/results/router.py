"""Activity results, management side (management-api.md §12): same service as integration."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import ResultStatus
from reten.activities.schemas import ActivityResultPage, ActivityResultRead
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.kit.errors import NotFound, ValidationFailed
from reten.kit.idempotency import validate_key
from reten.kit.jsonbody import parse_object, spelled
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_BOOLEAN,
    AS_TIMESTAMP,
    AS_UUID,
    as_comma_list,
    as_one_of,
    parse_bool,
    parse_enum,
    parse_enum_list,
    parse_optional_uuid,
    parse_timestamp,
    parse_uuid,
)
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.results import service
from reten.results.models import ResultSource
from reten.results.schemas import FREEFORM_KEYS, ResultCreate, parse_result_body
from reten.results.service import (
    RESULT_FIELD_NAMES,
    ResultFilters,
    ResultSubmission,
    SubmittedResult,
)
from reten.results.views import result_item
from reten.runtime import DbSession, get_runtime

router = APIRouter(prefix="/api/activity-results", tags=["Activity results"])


def _render(commerce_external_id: str) -> Any:
    def render(submitted: SubmittedResult) -> dict[str, Any]:
        row = SimpleNamespace(
            ActivityResult=submitted.result,
            commerce_external_id=commerce_external_id,
            result_label=submitted.result_type.label,
        )
        return result_item(row)

    return render


@router.post(
    "/tasks",
    status_code=201,
    response_model=ActivityResultRead,
    summary="Register a task result (canonical or flat body)",
    openapi_extra=openapi_body(ResultCreate),
)
async def create_result(
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.CREATE_ACTIVITY)),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    key = validate_key(idempotency_key)
    raw = parse_object(await request.body())
    data, flat_names = parse_result_body(raw)
    names = flat_names or spelled(raw, RESULT_FIELD_NAMES, FREEFORM_KEYS)
    if data.activity_id is None and data.provider_activity_id is None:
        raise ValidationFailed.one(
            names.get("activity_id", "activity_id"),
            "activity_id or provider_activity_id is required",
        )
    submission = ResultSubmission.of(data, data.status, names)
    outcome = await service.submit(
        get_runtime(request).db,
        principal.require_tenant(),
        principal.actor(),
        submission,
        _render(data.commerce_external_id),
        idempotency_key=key,
        request_body=raw,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return json_response(outcome.body, outcome.status_code, headers)


@router.get("", response_model=ActivityResultPage, summary="List results (paginated)")
async def list_results(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    page: Annotated[str | None, Query(), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(), AS_PER_PAGE] = None,
    activity_id: Annotated[str | None, Query(), AS_UUID] = None,
    commerce_id: Annotated[str | None, Query(), AS_UUID] = None,
    operator_id: Annotated[str | None, Query(), AS_UUID] = None,
    commerce_external_id: str | None = Query(default=None),
    provider_activity_id: str | None = Query(default=None),
    operator_external_id: str | None = Query(default=None),
    source: Annotated[str | None, Query(), as_one_of([s.value for s in ResultSource])] = None,
    status: Annotated[
        str | None,
        Query(description="comma-separated ResultStatus values"),
        as_comma_list([s.value for s in ResultStatus]),
    ] = None,
    result: str | None = Query(default=None, description="result type code"),
    occurred_from: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    occurred_to: Annotated[str | None, Query(), AS_TIMESTAMP] = None,
    include_superseded: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    sort: str | None = Query(
        default=None, description="occurred_at, -occurred_at, created_at, -created_at (default)"
    ),
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=25)
    filters = ResultFilters(
        activity_id=parse_optional_uuid("activity_id", activity_id),
        commerce_id=parse_optional_uuid("commerce_id", commerce_id),
        operator_id=parse_optional_uuid("operator_id", operator_id),
        commerce_external_id=commerce_external_id,
        provider_activity_id=provider_activity_id,
        operator_external_id=operator_external_id,
        source=parse_enum("source", source, [s.value for s in ResultSource]),
        statuses=tuple(parse_enum_list("status", status, [s.value for s in ResultStatus]) or ()),
        result=result,
        occurred_from=parse_timestamp("occurred_from", occurred_from),
        occurred_to=parse_timestamp("occurred_to", occurred_to),
        include_superseded=parse_bool("include_superseded", include_superseded) or False,
    )
    rows, total, estimate = await service.list_results(
        session, principal.require_tenant(), filters, sort, params
    )
    return json_response(
        page_envelope([result_item(r) for r in rows], params, total, estimate=estimate)
    )


@router.get("/{id}", response_model=ActivityResultRead, summary="One result")
async def get_result(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    row = await service.result_row(session, principal.require_tenant(), parse_uuid("id", id))
    if row is None:
        raise NotFound("Activity result not found")
    return json_response(result_item(row))
