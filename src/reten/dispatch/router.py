"""Dispatch providers, dispatch configs and the attempt log (management-api.md §14.2–14.14,
§11.14)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Channel
from reten.auth.dependencies import tenant_principal
from reten.auth.permissions import Permission
from reten.auth.principal import Principal
from reten.dispatch import service as configs
from reten.dispatch.models import DeliveryOutcome, DeliveryTrigger
from reten.dispatch.schemas import (
    CONFIG_IMMUTABLE,
    ChannelDefinitionRead,
    DeliveryAttemptPage,
    DeliveryAttemptRead,
    DispatchConfigCreate,
    DispatchConfigRead,
    DispatchConfigUpdate,
    DispatchConfigWithSecretRead,
    DispatchProviderRead,
    config_body,
)
from reten.kit.pagination import AS_PAGE, AS_PER_PAGE, page_envelope, parse_page_params
from reten.kit.params import (
    AS_BOOLEAN,
    AS_UUID,
    as_one_of,
    parse_bool,
    parse_enum,
    parse_optional_uuid,
    parse_uuid,
)
from reten.kit.responses import json_response
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession, get_runtime

router = APIRouter(tags=["Dispatch"])

CONFIGS = "/api/dispatch-configs"
DEFAULT_PER_PAGE = 25


def _read(view: configs.ConfigView) -> DispatchConfigRead:
    if view.signing_secret is not None:
        return DispatchConfigWithSecretRead.of(
            view.config, view.provider, view.now, signing_secret=view.signing_secret
        )
    return DispatchConfigRead.of(view.config, view.provider, view.now)


def _render(view: configs.ConfigView, status_code: int = 200) -> Response:
    # Rendered by hand: `signingSecret` must appear only when there is one, and a
    # response_model of the base class would drop it.
    return json_response(_read(view).model_dump(mode="json"), status_code)


# --- providers (§14.2, §14.3) ---------------------------------------------------------------------


@router.get("/api/dispatch-providers", response_model=list[DispatchProviderRead])
async def list_dispatch_providers(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[DispatchProviderRead]:
    rows = await configs.list_providers(session)
    return [DispatchProviderRead.of(provider, definitions) for provider, definitions in rows]


@router.get(
    "/api/dispatch-providers/{id}/channel-definitions",
    response_model=list[ChannelDefinitionRead],
)
async def list_channel_definitions(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[ChannelDefinitionRead]:
    definitions = await configs.channel_definitions(session, parse_uuid("id", id))
    return [ChannelDefinitionRead.model_validate(d) for d in definitions]


# --- configs (§14.5–14.12) ------------------------------------------------------------------------


@router.get(CONFIGS, response_model=list[DispatchConfigRead])
async def list_dispatch_configs(
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    channel: Annotated[
        str | None, Query(description="one Channel"), as_one_of([c.value for c in Channel])
    ] = None,
    is_active: Annotated[str | None, Query(), AS_BOOLEAN] = None,
    session: AsyncSession = DbSession,
) -> Response:
    channel_value = parse_enum("channel", channel, [c.value for c in Channel])
    views = await configs.list_configs(
        session,
        principal.require_tenant(),
        channel=Channel(channel_value) if channel_value else None,
        is_active=parse_bool("is_active", is_active),
    )
    return json_response([_read(v).model_dump(mode="json") for v in views])


@router.post(
    CONFIGS,
    status_code=201,
    responses={
        201: {"model": DispatchConfigWithSecretRead, "description": "signingSecret: WEBHOOK"}
    },
    openapi_extra=openapi_body(DispatchConfigCreate),
)
async def create_dispatch_config(
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: DispatchConfigCreate = Depends(config_body(DispatchConfigCreate)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.create_config(
        session,
        get_runtime(request).secretbox,
        principal.require_tenant(),
        data,
        actor=principal.actor(),
    )
    return _render(view, 201)


@router.get(CONFIGS + "/{id}", response_model=DispatchConfigRead)
async def get_dispatch_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.get_config(session, principal.require_tenant(), parse_uuid("id", id))
    return _render(view)


@router.patch(
    CONFIGS + "/{id}",
    response_model=DispatchConfigRead,
    openapi_extra=openapi_body(DispatchConfigUpdate),
)
async def update_dispatch_config(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    data: DispatchConfigUpdate = Depends(config_body(DispatchConfigUpdate, CONFIG_IMMUTABLE)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.update_config(
        session,
        get_runtime(request).secretbox,
        principal.require_tenant(),
        parse_uuid("id", id),
        data,
        actor=principal.actor(),
    )
    return _render(view)


@router.delete(CONFIGS + "/{id}", status_code=204, response_class=Response)
async def delete_dispatch_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    await configs.delete_config(
        session, principal.require_tenant(), parse_uuid("id", id), actor=principal.actor()
    )
    return Response(status_code=204)


@router.post(CONFIGS + "/{id}/activate", response_model=DispatchConfigRead)
async def activate_dispatch_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.activate_config(
        session, principal.require_tenant(), parse_uuid("id", id), actor=principal.actor()
    )
    return _render(view)


@router.post(CONFIGS + "/{id}/deactivate", response_model=DispatchConfigRead)
async def deactivate_dispatch_config(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.deactivate_config(
        session, principal.require_tenant(), parse_uuid("id", id), actor=principal.actor()
    )
    return _render(view)


@router.post(CONFIGS + "/{id}/rotate-secret", response_model=DispatchConfigWithSecretRead)
async def rotate_dispatch_config_secret(
    id: Annotated[str, AS_UUID],
    request: Request,
    principal: Principal = Depends(tenant_principal(Permission.MANAGE_ACTIVITY_CONFIG)),
    session: AsyncSession = DbSession,
) -> Response:
    view = await configs.rotate_secret(
        session,
        get_runtime(request).secretbox,
        principal.require_tenant(),
        parse_uuid("id", id),
        actor=principal.actor(),
    )
    return _render(view)


# --- the attempt log (§14.14, §11.14) -------------------------------------------------------------


@router.get(CONFIGS + "/{id}/attempts", response_model=DeliveryAttemptPage)
async def list_dispatch_config_attempts(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    page: Annotated[str | None, Query(description="≥ 1, default 1"), AS_PAGE] = None,
    per_page: Annotated[str | None, Query(description="1-100, default 25"), AS_PER_PAGE] = None,
    limit: Annotated[str | None, Query(description="alias of per_page"), AS_PER_PAGE] = None,
    activity_id: Annotated[str | None, Query(), AS_UUID] = None,
    outcome: Annotated[
        str | None,
        Query(description="SUCCESS, FAILURE"),
        as_one_of([o.value for o in DeliveryOutcome]),
    ] = None,
    trigger: Annotated[
        str | None,
        Query(description="SCHEDULED, MANUAL, RESEND"),
        as_one_of([t.value for t in DeliveryTrigger]),
    ] = None,
    session: AsyncSession = DbSession,
) -> Response:
    params = parse_page_params(page, per_page, limit, default_per_page=DEFAULT_PER_PAGE)
    outcome_value = parse_enum("outcome", outcome, [o.value for o in DeliveryOutcome])
    trigger_value = parse_enum("trigger", trigger, [t.value for t in DeliveryTrigger])
    filters = configs.AttemptFilters(
        activity_id=parse_optional_uuid("activity_id", activity_id),
        outcome=DeliveryOutcome(outcome_value) if outcome_value else None,
        trigger=DeliveryTrigger(trigger_value) if trigger_value else None,
    )
    rows, total, estimate = await configs.config_attempts(
        session, principal.require_tenant(), parse_uuid("id", id), filters, params
    )
    data = [DeliveryAttemptRead.of(a).model_dump(mode="json") for a in rows]
    return json_response(page_envelope(data, params, total, estimate=estimate))


@router.get("/api/activities/{id}/attempts", response_model=list[DeliveryAttemptRead])
async def list_activity_attempts(
    id: Annotated[str, AS_UUID],
    principal: Principal = Depends(tenant_principal(Permission.VIEW_ACTIVITIES)),
    session: AsyncSession = DbSession,
) -> list[DeliveryAttemptRead]:
    attempts = await configs.activity_attempts(
        session, principal.require_tenant(), parse_uuid("id", id)
    )
    return [DeliveryAttemptRead.of(a) for a in attempts]
