"""Activities → Dispatch configuration: per channel, which provider receives its activities.

List per channel (provider, endpoint, active, health), create and edit (credential inputs
generated from the channel definition's credentialSchema, never pre-filled), activate and
deactivate, a test delivery, the WEBHOOK signing secret (shown once, rotate) and the attempt log
with its filters. Every action calls the service of its API endpoint (§14.5–14.14), so the panel
refuses exactly what the API refuses.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from reten.activities.models import Channel
from reten.admin.listing import ListPage, list_state
from reten.admin.web import (
    FormErrors,
    Panel,
    confirmed,
    local_filter,
    panel,
    panel_router,
    read_form,
    redirect,
    render,
)
from reten.auth.permissions import Permission
from reten.dispatch import service
from reten.dispatch.actions import DispatchService
from reten.dispatch.models import (
    ChannelDefinition,
    DeactivationReason,
    DeliveryOutcome,
    DeliveryTrigger,
    DispatchProvider,
)
from reten.dispatch.schemas import (
    FREEFORM,
    SETTINGS_DEFAULTS,
    UNKNOWN_SETTING,
    DispatchConfigCreate,
    DispatchConfigUpdate,
)
from reten.kit.errors import AppError, ValidationFailed
from reten.kit.jsonbody import validate_body
from reten.kit.params import parse_enum, parse_uuid
from reten.kit.time import utcnow
from reten.runtime import DbSession, get_runtime

router = panel_router()

PATH = "/dispatch-configs"
VIEW = panel(Permission.VIEW_ACTIVITIES)  # the API's permission for reading configs and attempts
MANAGE = panel(Permission.MANAGE_ACTIVITY_CONFIG)

CHANNELS = [c.value for c in Channel]
SETTINGS = tuple(SETTINGS_DEFAULTS)
# A credential's input is `credential_<key>`: the keys are the provider's (camelCase) and an id
# with a dot would not be a usable CSS selector.
CREDENTIAL_PREFIX = "credential_"
REMOVE_FIELD = "remove_credential"
ATTEMPTS_PER_PAGE = 25
HEALTH_WINDOW = timedelta(hours=24)

REASONS = {
    DeactivationReason.HTTP_410.value: "the endpoint answered 410 Gone, which means it no "
    "longer accepts deliveries",
    DeactivationReason.CONSECUTIVE_FAILURES.value: "too many activities in a row failed every "
    "attempt (circuit breaker)",
    DeactivationReason.MANUAL.value: "it was deactivated by hand",
}


@dataclass(frozen=True)
class CredentialInput:
    """One input generated from a credentialSchema entry."""

    key: str
    label: str
    required: bool
    stored: bool

    @property
    def name(self) -> str:
        return CREDENTIAL_PREFIX + self.key


def credential_inputs(
    definition: ChannelDefinition | None, stored: list[str] | None = None
) -> list[CredentialInput]:
    schema = definition.credential_schema if definition is not None else []
    return [
        CredentialInput(
            key=str(item["key"]),
            label=str(item.get("label") or item["key"]),
            required=bool(item.get("required")),
            stored=str(item["key"]) in (stored or []),
        )
        for item in schema
    ]


def _int_or_text(raw: str) -> int | str:
    """A number as the API's strict integer; anything else as typed, for the schema to refuse."""
    text = raw.strip()
    return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text


def _settings_body(form: FormData) -> dict[str, Any]:
    """The settings the form gives (an empty input is "not given": the default or the stored
    value stays). The retry schedule is typed as seconds separated by commas."""
    settings: dict[str, Any] = {}
    for name in SETTINGS:
        raw = str(form.get(name, "")).strip()
        if not raw:
            continue
        if name == "retry_schedule":
            settings[name] = [_int_or_text(part) for part in raw.split(",")]
        else:
            settings[name] = _int_or_text(raw)
    return settings


def _credentials_body(form: FormData, inputs: list[CredentialInput]) -> dict[str, str]:
    """The credential inputs that were filled in, verbatim (a credential keeps its spaces)."""
    out: dict[str, str] = {}
    for item in inputs:
        value = form.get(item.name)
        if isinstance(value, str) and value != "":
            out[item.key] = value
    return out


def _validate(model: type[Any], body: dict[str, Any]) -> Any:
    # The API's body rules for configs: credential keys never re-cased, unknown settings named.
    return validate_body(model, body, FREEFORM, messages={"extra_forbidden": UNKNOWN_SETTING})


def _errors(exc: AppError, inputs: list[CredentialInput]) -> FormErrors:
    """The API's details next to the form's inputs: `settings.retry_schedule[1]` belongs to the
    retry schedule input, `credentials.apiKey` to that credential's input."""
    names = ["base_url", *SETTINGS, *(i.name for i in inputs)]
    aliases: dict[str, str] = {"dispatch_provider_id": "provider", "credentials": "credentials"}
    for detail in exc.details or []:
        field = str(detail.get("field", ""))
        plain = re.sub(r"\[\d+\]", "", field)
        if plain.startswith("settings."):
            aliases[field] = plain.removeprefix("settings.")
        elif plain.startswith("credentials."):
            aliases[field] = CREDENTIAL_PREFIX + plain.removeprefix("credentials.")
    return FormErrors.of(exc, (*names, "provider", "channel"), aliases)


def _dispatch(request: Request) -> DispatchService:
    # Wired by the app factory, as for the API's dispatch actions.
    return request.app.state.dispatch  # type: ignore[no-any-return]


async def _definition(
    session: AsyncSession, provider: DispatchProvider, channel: str
) -> ChannelDefinition | None:
    for definition in await service.channel_definitions(session, provider.id):
        if definition.channel == channel:
            return definition
    return None


# ---- the list per channel -------------------------------------------------------------------


@router.get(PATH)
async def list_configs(
    request: Request, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    views = await service.list_configs(session, ctx.tenant_id)
    health = {
        h.channel: h
        for h in await service.channel_health(session, ctx.tenant_id, utcnow() - HEALTH_WINDOW)
    }
    channels = [
        {
            "channel": channel,
            "configs": [v for v in views if v.config.channel == channel],
            "health": health.get(channel),
        }
        for channel in CHANNELS
    ]
    return render(
        request,
        "dispatch_configs/index.html",
        {
            "channels": channels,
            "stopped": [v for v in views if _stopped_automatically(v)],
            "reasons": REASONS,
        },
    )


def _stopped_automatically(view: service.ConfigView) -> bool:
    return not view.config.is_active and view.config.deactivated_reason in (
        DeactivationReason.HTTP_410.value,
        DeactivationReason.CONSECUTIVE_FAILURES.value,
    )


# ---- create -----------------------------------------------------------------------------------


async def _providers(session: AsyncSession) -> list[DispatchProvider]:
    return [p for p, _ in await service.list_providers(session) if p.is_active]


def _pick_provider(providers: list[DispatchProvider], wanted: str | None) -> DispatchProvider:
    for provider in providers:
        if str(provider.id) == wanted or provider.code == wanted:
            return provider
    # WEBHOOK first when nothing was chosen: it is what an integrator of their own uses.
    by_code = {p.code: p for p in providers}
    return by_code.get("WEBHOOK") or providers[0]


async def _new_page(
    request: Request,
    session: AsyncSession,
    *,
    provider_wanted: str | None,
    channel_wanted: str | None,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    providers = await _providers(session)
    provider = _pick_provider(providers, provider_wanted)
    channel = channel_wanted if channel_wanted in CHANNELS else CHANNELS[0]
    definition = await _definition(session, provider, channel)
    return render(
        request,
        "dispatch_configs/new.html",
        {
            "providers": providers,
            "provider": provider,
            "channel": channel,
            "channels": CHANNELS,
            "credentials": credential_inputs(definition),
            "defaults": SETTINGS_DEFAULTS,
            # Credential values are never echoed back: the inputs are password fields.
            "form": form or {},
            "errors": errors or FormErrors(),
        },
        fragment="config_form",
        status_code=status_code,
    )


@router.get(PATH + "/new")
async def new_config(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    query = request.query_params
    return await _new_page(
        request,
        session,
        provider_wanted=query.get("provider"),
        channel_wanted=query.get("channel"),
    )


@router.post(PATH)
async def create_config(
    request: Request, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    form = await read_form(request)
    provider_raw = str(form.get("dispatch_provider_id", ""))
    channel_raw = str(form.get("channel", ""))
    providers = await _providers(session)
    provider = next((p for p in providers if str(p.id) == provider_raw), None)
    definition = await _definition(session, provider, channel_raw) if provider else None
    inputs = credential_inputs(definition)
    shown = {name: form.get(name, "") for name in ("base_url", "is_active", *SETTINGS)}
    body: dict[str, Any] = {
        "dispatch_provider_id": provider_raw,
        "channel": channel_raw,
        "is_active": form.get("is_active") == "true",
    }
    if str(form.get("base_url", "")).strip():
        body["base_url"] = form.get("base_url")
    credentials = _credentials_body(form, inputs)
    if credentials:
        body["credentials"] = credentials
    settings = _settings_body(form)
    if settings:
        body["settings"] = settings
    try:
        data = _validate(DispatchConfigCreate, body)
        created = await service.create_config(
            session,
            get_runtime(request).secretbox,
            ctx.tenant_id,
            data,
            actor=ctx.principal.actor(),
        )
    except AppError as exc:
        await session.rollback()
        errors = _errors(exc, inputs)
        return await _new_page(
            request,
            session,
            provider_wanted=provider_raw,
            channel_wanted=channel_raw,
            form=shown,
            errors=errors,
            status_code=errors.status_code,
        )
    # The one response that carries the signing secret: rendered now, never stored, never again.
    return await _detail_page(
        request, ctx, session, created.config.id, secret=created.signing_secret, status_code=201
    )


# ---- one config ---------------------------------------------------------------------------------


async def _attempts(
    request: Request, ctx: Panel, session: AsyncSession, config_id: uuid.UUID
) -> ListPage:
    state = list_state(request, default_sort="-created_at", per_page=ATTEMPTS_PER_PAGE)
    # The log's links and its refresh go to the config's page, also when this page answers a
    # POST (a test delivery, a rotation) made at another path.
    state = replace(state, path=f"{PATH}/{config_id}")
    start = local_filter(state.get("from"), "from", ctx.tz)
    end = local_filter(state.get("to"), "to", ctx.tz)
    if start and end and start > end:
        raise ValidationFailed.one("from", "must not be after to")
    outcome = parse_enum("outcome", state.get("outcome"), [o.value for o in DeliveryOutcome])
    trigger = parse_enum("trigger", state.get("trigger"), [t.value for t in DeliveryTrigger])
    activity = state.get("activity_id")
    filters = service.AttemptFilters(
        activity_id=parse_uuid("activity_id", activity.strip()) if activity else None,
        outcome=DeliveryOutcome(outcome) if outcome else None,
        trigger=DeliveryTrigger(trigger) if trigger else None,
        created_from=start,
        created_to=end,
    )
    rows, total, estimate = await service.config_attempts(
        session, ctx.tenant_id, config_id, filters, state.page
    )
    return ListPage(rows, total, estimate, state)


async def _detail_page(
    request: Request,
    ctx: Panel,
    session: AsyncSession,
    config_id: uuid.UUID,
    *,
    secret: str | None = None,
    tested: dict[str, Any] | None = None,
    confirm: str | None = None,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    view = await service.get_config(session, ctx.tenant_id, config_id)
    definition = await _definition(session, view.provider, view.config.channel)
    health = {
        h.channel: h
        for h in await service.channel_health(session, ctx.tenant_id, utcnow() - HEALTH_WINDOW)
    }
    settings = service.settings_of(view.config)
    shown = form or {
        "base_url": view.config.base_url or "",
        **{k: v for k, v in settings.items() if k != "retry_schedule"},
        "retry_schedule": ", ".join(str(s) for s in settings["retry_schedule"]),
    }
    return render(
        request,
        "dispatch_configs/detail.html",
        {
            "v": view,
            "c": view.config,
            "settings": settings,
            "health": health.get(view.config.channel),
            "credentials": credential_inputs(definition, view.config.credential_keys),
            "signs": view.config.signing_secret_encrypted is not None,
            "previous_expires": _previous_expiry(view),
            "secret": secret,
            "tested": tested,
            "confirm": confirm,
            "reasons": REASONS,
            "form": shown,
            "errors": errors or FormErrors(),
            "attempts": await _attempts(request, ctx, session, config_id),
            "outcomes": [o.value for o in DeliveryOutcome],
            "triggers": [t.value for t in DeliveryTrigger],
            "defaults": SETTINGS_DEFAULTS,
        },
        # htmx GETs of this page are the attempt log's filters and refresh; an htmx POST (the
        # rotation) gets the whole page, from which it takes <main>.
        fragment="attempts" if request.method == "GET" else None,
        status_code=status_code,
    )


def _previous_expiry(view: service.ConfigView) -> Any:
    expires = view.config.previous_secret_expires_at
    if view.config.previous_secret_encrypted is None or expires is None:
        return None
    return expires if view.now < expires else None


@router.get(PATH + "/{id}")
async def show_config(
    request: Request, id: str, ctx: Panel = Depends(VIEW), session: AsyncSession = DbSession
) -> Response:
    return await _detail_page(request, ctx, session, parse_uuid("id", id))


@router.post(PATH + "/{id}")
async def update_config(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    config_id = parse_uuid("id", id)
    view = await service.get_config(session, ctx.tenant_id, config_id)
    definition = await _definition(session, view.provider, view.config.channel)
    inputs = credential_inputs(definition, view.config.credential_keys)
    form = await read_form(request)
    shown = {name: form.get(name, "") for name in ("base_url", *SETTINGS)}
    body: dict[str, Any] = {}
    base_url = str(form.get("base_url", "")).strip()
    body["base_url"] = base_url or None
    credentials = _credentials_body(form, inputs)
    removed = [
        key for key in form.getlist(REMOVE_FIELD) if key in {i.key for i in inputs if i.stored}
    ]
    # A blank credential input keeps the stored value: only what was typed (or ticked for
    # removal) changes.
    if credentials or removed:
        body["credentials"] = credentials
    settings = _settings_body(form)
    if settings:
        body["settings"] = settings
    try:
        data = _validate(DispatchConfigUpdate, body)
        await service.update_config(
            session,
            get_runtime(request).secretbox,
            ctx.tenant_id,
            config_id,
            data,
            actor=ctx.principal.actor(),
            merge_credentials=True,
            remove_credentials=removed,
        )
    except AppError as exc:
        await session.rollback()
        errors = _errors(exc, inputs)
        return await _detail_page(
            request,
            ctx,
            session,
            config_id,
            form=shown,
            errors=errors,
            status_code=errors.status_code,
        )
    return redirect(request, f"{PATH}/{config_id}")


@router.post(PATH + "/{id}/activate")
async def activate_config(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    config_id = parse_uuid("id", id)
    if not await confirmed(request):
        return await _detail_page(request, ctx, session, config_id, confirm="activate")
    await service.activate_config(session, ctx.tenant_id, config_id, actor=ctx.principal.actor())
    return redirect(request, f"{PATH}/{config_id}")


@router.post(PATH + "/{id}/deactivate")
async def deactivate_config(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    config_id = parse_uuid("id", id)
    if not await confirmed(request):
        return await _detail_page(request, ctx, session, config_id, confirm="deactivate")
    await service.deactivate_config(session, ctx.tenant_id, config_id, actor=ctx.principal.actor())
    return redirect(request, f"{PATH}/{config_id}")


@router.post(PATH + "/{id}/test")
async def test_config(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    config_id = parse_uuid("id", id)
    # The delivery runs before this request's session reads anything: no transaction is open
    # while the provider is called.
    answer = await _dispatch(request).test_config(ctx.tenant_id, config_id)
    return await _detail_page(request, ctx, session, config_id, tested=answer)


@router.post(PATH + "/{id}/rotate-secret")
async def rotate_secret(
    request: Request, id: str, ctx: Panel = Depends(MANAGE), session: AsyncSession = DbSession
) -> Response:
    config_id = parse_uuid("id", id)
    if not await confirmed(request):
        return await _detail_page(request, ctx, session, config_id, confirm="rotate")
    rotated = await service.rotate_secret(
        session,
        get_runtime(request).secretbox,
        ctx.tenant_id,
        config_id,
        actor=ctx.principal.actor(),
    )
    # Shown once, in this response only, like the secret of a new config.
    return await _detail_page(request, ctx, session, config_id, secret=rotated.signing_secret)
