"""Dispatch providers, the tenant's dispatch configs and the attempt log (management-api.md
§14.2–14.14, §11.14), plus what the delivery engine reads of a config.

Rule 1A (one active config per tenant and channel) is the database's job: the partial unique
index `uq_dispatch_configs_active_channel` refuses a second active row, and the refused commit
becomes the 409. Two concurrent creates or activations therefore leave one active config and
one 409, on both databases.

Credentials and signing secrets are stored sealed (kit.secretbox); only credential key names are
kept in clear. Nothing here logs or returns a secret, except the signing secret handed back once
by creation and rotation.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from reten.activities.lifecycle import ActivityState
from reten.activities.models import Activity, Channel
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.dispatch.models import (
    ChannelDefinition,
    DeactivationReason,
    DeliveryOutcome,
    DeliveryTrigger,
    DispatchAttempt,
    DispatchConfig,
    DispatchProvider,
)
from reten.dispatch.providers import REGISTRY
from reten.dispatch.providers.webhook import new_signing_secret
from reten.dispatch.schemas import (
    DispatchConfigCreate,
    DispatchConfigUpdate,
    complete_settings,
)
from reten.kit.actor import Actor
from reten.kit.db import TenantRepository, TenantScope
from reten.kit.errors import BadRequest, NotFound, ServiceUnavailable, ValidationFailed
from reten.kit.listing import paginate
from reten.kit.pagination import PageParams
from reten.kit.schemas import SpelledInput
from reten.kit.secretbox import SecretBox, SecretBoxError
from reten.kit.signal import mark
from reten.kit.time import ensure_utc, utcnow
from reten.kit.unique import unique_as_conflict

PROVIDER_NOT_FOUND = "Dispatch provider not found"
CONFIG_NOT_FOUND = "Dispatch config not found"
ACTIVITY_NOT_FOUND = "Activity not found"
# How long the previous signing secret keeps signing after a rotation (§14.12).
SECRET_OVERLAP = timedelta(hours=24)

# Newest first; attempts of one activity made in the same millisecond keep their sequence.
NEWEST_FIRST = (
    DispatchAttempt.created_at.desc(),
    DispatchAttempt.attempt_number.desc(),
    DispatchAttempt.id.asc(),
)


@dataclass(frozen=True)
class ConfigView:
    """A config with its provider, as of `now` (which decides whether the previous signing
    secret is still shown as live). `signing_secret` is set only right after creating a WEBHOOK
    config or rotating its secret."""

    config: DispatchConfig
    provider: DispatchProvider
    now: datetime
    signing_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AttemptFilters:
    activity_id: uuid.UUID | None = None
    outcome: DeliveryOutcome | None = None
    trigger: DeliveryTrigger | None = None
    # Attempts made at or after `created_from` and before `created_to` (the panel's date range).
    created_from: datetime | None = None
    created_to: datetime | None = None


# --- what the delivery engine reads ---------------------------------------------------------------


def settings_of(config: DispatchConfig) -> dict[str, Any]:
    """The config's complete settings, snake_case, with defaults for anything never given."""
    return complete_settings(config.settings or {})


def open_config_secrets(
    secretbox: SecretBox, config: DispatchConfig, now: datetime
) -> tuple[dict[str, str], tuple[str, ...]]:
    """(credentials, live signing secrets): the current secret first, then the previous one
    while `now` is before its expiry. Only a delivery should ever call this."""
    credentials: dict[str, str] = {}
    if config.credentials_encrypted is not None:
        opened = orjson.loads(secretbox.open(config.credentials_encrypted))
        credentials = {str(key): str(value) for key, value in opened.items()}
    secrets: list[str] = []
    if config.signing_secret_encrypted is not None:
        secrets.append(secretbox.open(config.signing_secret_encrypted))
    expires = config.previous_secret_expires_at
    if (
        config.previous_secret_encrypted is not None
        and expires is not None
        and now < ensure_utc(expires)
    ):
        secrets.append(secretbox.open(config.previous_secret_encrypted))
    return credentials, tuple(secrets)


async def active_config(
    session: AsyncSession, tenant_id: uuid.UUID, channel: str
) -> DispatchConfig | None:
    """The channel's active config (rule 1A: at most one), or None."""
    stmt = (
        TenantRepository(session, tenant_id)
        .select(DispatchConfig)
        .where(
            DispatchConfig.channel == str(channel),
            DispatchConfig.is_active.is_(True),
            DispatchConfig.deleted_at.is_(None),
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# --- the retry-dispatch rule (11.13), shown as canForceRetryDispatch -------------------------------


def may_retry_dispatch(state: ActivityState) -> bool:
    """11.13's precondition on the activity itself: FAILED by dispatch and no result at all."""
    return state.failed_by_dispatch and not state.has_any_result


async def force_retry_flags(
    session: AsyncSession | AsyncConnection,
    tenant_id: uuid.UUID,
    activities: Sequence[tuple[ActivityState, str]],
) -> list[bool]:
    """`canForceRetryDispatch` of each (state, channel): 11.13's precondition holds and the
    channel has an active config. The one place the rule is computed, for the management detail
    and the integration list alike: one query for a whole page, none when no activity on it
    failed by dispatch."""
    if not any(may_retry_dispatch(state) for state, _ in activities):
        return [False] * len(activities)
    stmt = (
        TenantScope(tenant_id)
        .where(DispatchConfig, select(DispatchConfig.channel))
        .where(DispatchConfig.is_active.is_(True), DispatchConfig.deleted_at.is_(None))
    )
    channels = set((await session.execute(stmt)).scalars())
    return [may_retry_dispatch(state) and str(channel) in channels for state, channel in activities]


def force_retry_sql(tenant_id: str, channel: str) -> str:
    """The part of `force_retry_flags`' rule that depends on the tenant's configuration, as a SQL
    condition on the columns named (an activity FAILED with no result qualifies when this
    holds), for the list PostgreSQL renders itself (tests hold the two in agreement)."""
    return (
        "EXISTS (SELECT 1 FROM dispatch_configs dc"
        f" WHERE dc.tenant_id = {tenant_id} AND dc.channel = {channel}"
        " AND dc.is_active AND dc.deleted_at IS NULL)"
    )


# --- providers (§14.2, §14.3) ---------------------------------------------------------------------


async def list_providers(
    session: AsyncSession,
) -> list[tuple[DispatchProvider, list[ChannelDefinition]]]:
    """Every provider by code, each with its channel definitions by channel."""
    providers = list(
        (await session.execute(select(DispatchProvider).order_by(DispatchProvider.code))).scalars()
    )
    definitions: dict[uuid.UUID, list[ChannelDefinition]] = {p.id: [] for p in providers}
    stmt = select(ChannelDefinition).order_by(ChannelDefinition.channel)
    for definition in (await session.execute(stmt)).scalars():
        definitions.setdefault(definition.dispatch_provider_id, []).append(definition)
    return [(p, definitions[p.id]) for p in providers]


async def channel_definitions(
    session: AsyncSession, provider_id: uuid.UUID
) -> list[ChannelDefinition]:
    if await session.get(DispatchProvider, provider_id) is None:
        raise NotFound(PROVIDER_NOT_FOUND)
    stmt = (
        select(ChannelDefinition)
        .where(ChannelDefinition.dispatch_provider_id == provider_id)
        .order_by(ChannelDefinition.channel)
    )
    return list((await session.execute(stmt)).scalars())


# --- configs (§14.5–14.12) ------------------------------------------------------------------------


async def list_configs(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    channel: Channel | None = None,
    is_active: bool | None = None,
) -> list[ConfigView]:
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(DispatchConfig, select(DispatchConfig, DispatchProvider))
        .join(DispatchProvider, DispatchProvider.id == DispatchConfig.dispatch_provider_id)
        .where(DispatchConfig.deleted_at.is_(None))
    )
    if channel is not None:
        stmt = stmt.where(DispatchConfig.channel == channel.value)
    if is_active is not None:
        stmt = stmt.where(DispatchConfig.is_active.is_(is_active))
    stmt = stmt.order_by(DispatchConfig.channel, DispatchConfig.created_at, DispatchConfig.id)
    now = utcnow()
    return [ConfigView(c, p, now) for c, p in (await session.execute(stmt)).all()]


async def get_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID
) -> ConfigView:
    config = await _live(session, tenant_id, config_id)
    return ConfigView(config, await _provider_of(session, config), utcnow())


async def create_config(
    session: AsyncSession,
    secretbox: SecretBox,
    tenant_id: uuid.UUID,
    data: DispatchConfigCreate,
    *,
    actor: Actor,
) -> ConfigView:
    provider = await session.get(DispatchProvider, data.dispatch_provider_id)
    implementation = REGISTRY.get(provider.code) if provider is not None else None
    if provider is None or implementation is None or not provider.is_active:
        raise NotFound(PROVIDER_NOT_FOUND)
    definition = await _definition(session, provider.id, data.channel.value)
    if definition is None:
        raise ValidationFailed.one(
            data.spelled("channel"), f"is not supported by provider {provider.code}"
        )
    problems = _credential_problems(data, data.credentials, definition.credential_schema)
    if data.base_url is None and implementation.requires_base_url:
        problems.insert(0, _base_url_required(data, provider))
    if problems:
        raise ValidationFailed(problems)

    secret = new_signing_secret() if implementation.signs_deliveries else None
    config = TenantRepository(session, tenant_id).add(
        DispatchConfig(
            id=uuid.uuid4(),
            dispatch_provider_id=provider.id,
            channel=data.channel.value,
            base_url=data.base_url,
            settings=complete_settings(data.settings.given() if data.settings else {}),
            is_active=data.is_active,
            signing_secret_encrypted=secretbox.seal(secret) if secret is not None else None,
            consecutive_failures=0,
        )
    )
    _store_credentials(secretbox, config, data.credentials, definition.credential_schema)
    audit.record_object(
        session, tenant_id, actor, AuditAction.DISPATCH_CONFIG_CREATED, config,
        providerCode=provider.code,
    )  # fmt: skip
    await _commit(session, wake_dispatcher=config.is_active)
    return ConfigView(config, provider, utcnow(), secret)


async def update_config(
    session: AsyncSession,
    secretbox: SecretBox,
    tenant_id: uuid.UUID,
    config_id: uuid.UUID,
    data: DispatchConfigUpdate,
    *,
    actor: Actor,
    merge_credentials: bool = False,
    remove_credentials: Collection[str] = (),
) -> ConfigView:
    """14.8. With `merge_credentials` the given credentials replace only the keys they name and
    `remove_credentials` drops keys: a form whose password inputs are never pre-filled can
    change one credential (a blank input keeps the stored value) without retyping the others."""
    config = await _live(session, tenant_id, config_id, lock=True)
    before = audit.describe(config)
    provider = await _provider_of(session, config)
    definition = await _definition(session, provider.id, config.channel)
    schema = definition.credential_schema if definition is not None else []
    given = data.model_fields_set
    if merge_credentials and "credentials" in given:
        try:
            stored, _ = open_config_secrets(secretbox, config, utcnow())
        except SecretBoxError:
            raise ServiceUnavailable(
                "The stored credentials cannot be opened with this server's encryption keys; "
                "enter every credential again"
            ) from None
        merged = {k: v for k, v in stored.items() if k not in remove_credentials}
        data = data.model_copy(update={"credentials": {**merged, **(data.credentials or {})}})

    problems: list[dict[str, str]] = []
    implementation = REGISTRY.get(provider.code)
    requires_base_url = implementation is None or implementation.requires_base_url
    if "base_url" in given and data.base_url is None and requires_base_url:
        problems.append(_base_url_required(data, provider))
    if "credentials" in given:
        if data.credentials is None:
            required = _required_keys(schema)
            if required:
                problems.append(
                    {
                        "field": data.spelled("credentials"),
                        "message": f"cannot be cleared: {', '.join(required)} is required",
                    }
                )
        else:
            problems.extend(_credential_problems(data, data.credentials, schema))
    if problems:
        raise ValidationFailed(problems)

    now = utcnow()
    if "base_url" in given:
        config.base_url = data.base_url
    if "credentials" in given:
        _store_credentials(secretbox, config, data.credentials, schema)
    if data.settings is not None:
        # Merged key by key; a given retry_schedule replaces the stored one as a whole.
        merged = {**settings_of(config), **data.settings.given()}
        if merged != config.settings:
            config.settings = merged
    # A PATCH that switches the config on or off has the effect of 14.10 / 14.11, so that a
    # config re-enabled here does not keep a stale circuit-breaker state.
    activated = data.is_active is True and not config.is_active
    if activated:
        _activate(config)
    elif data.is_active is False and config.is_active:
        _deactivate(config, now)
    # Credential values are never recorded; that they were replaced is.
    replaced = {"credentialsReplaced": True} if "credentials" in given else {}
    audit.record_changed(
        session, tenant_id, actor, _update_action(before, config), config, before, **replaced
    )
    await _commit(session, wake_dispatcher=activated)
    return ConfigView(config, provider, now)


async def delete_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID, *, actor: Actor
) -> None:
    """Deactivate and hide the config; its row stays so the attempt log remains readable.

    The sealed credentials and secrets are dropped: nothing can deliver through a deleted
    config, so there is no reason to keep them at rest."""
    config = await _live(session, tenant_id, config_id, lock=True)
    config.is_active = False
    config.deleted_at = utcnow()
    config.credentials_encrypted = None
    config.credential_keys = []
    config.signing_secret_encrypted = None
    config.previous_secret_encrypted = None
    config.previous_secret_expires_at = None
    audit.record_object(session, tenant_id, actor, AuditAction.DISPATCH_CONFIG_DELETED, config)
    await session.commit()


async def activate_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID, *, actor: Actor
) -> ConfigView:
    config = await _live(session, tenant_id, config_id, lock=True)
    before = audit.describe(config)
    _activate(config)
    audit.record_changed(
        session, tenant_id, actor, AuditAction.DISPATCH_CONFIG_ACTIVATED, config, before
    )
    # The channel's READY backlog is deliverable from the commit on.
    await _commit(session, wake_dispatcher=True)
    return ConfigView(config, await _provider_of(session, config), utcnow())


async def deactivate_config(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID, *, actor: Actor
) -> ConfigView:
    config = await _live(session, tenant_id, config_id, lock=True)
    now = utcnow()
    # An inactive config keeps its reason: a manual click must not hide that the provider
    # answered 410 or that the circuit breaker tripped.
    if config.is_active:
        before = audit.describe(config)
        _deactivate(config, now)
        audit.record_changed(
            session, tenant_id, actor, AuditAction.DISPATCH_CONFIG_DEACTIVATED, config, before
        )
        await session.commit()
    return ConfigView(config, await _provider_of(session, config), now)


async def rotate_secret(
    session: AsyncSession,
    secretbox: SecretBox,
    tenant_id: uuid.UUID,
    config_id: uuid.UUID,
    *,
    actor: Actor,
) -> ConfigView:
    """A new current secret; the current one keeps signing for SECRET_OVERLAP; older ones go.

    The row is locked (PostgreSQL) or the transaction holds the write lock (SQLite), so two
    concurrent rotations run one after the other and neither caller is handed a secret that
    was overwritten."""
    config = await _live(session, tenant_id, config_id, lock=True)
    provider = await _provider_of(session, config)
    implementation = REGISTRY.get(provider.code)
    if implementation is None or not implementation.signs_deliveries:
        raise BadRequest(
            f"Only WEBHOOK configs have a signing secret; this config uses {provider.code}"
        )
    now = utcnow()
    secret = new_signing_secret()
    config.previous_secret_encrypted = config.signing_secret_encrypted
    config.previous_secret_expires_at = (
        now + SECRET_OVERLAP if config.signing_secret_encrypted is not None else None
    )
    config.signing_secret_encrypted = secretbox.seal(secret)
    audit.record(
        session, tenant_id, actor, AuditAction.DISPATCH_CONFIG_SECRET_ROTATED,
        audit.target_of(config),
        {"previousSecretExpiresAt": config.previous_secret_expires_at},
    )  # fmt: skip
    await session.commit()
    return ConfigView(config, provider, now, secret)


# --- the attempt log (§14.14, §11.14) -------------------------------------------------------------


async def config_attempts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    config_id: uuid.UUID,
    filters: AttemptFilters,
    params: PageParams,
) -> tuple[list[DispatchAttempt], int, bool]:
    """One page of a config's attempts, newest first. A deleted config's log is still served."""
    repo = TenantRepository(session, tenant_id)
    if await repo.get(DispatchConfig, config_id) is None:
        raise NotFound(CONFIG_NOT_FOUND)
    stmt = repo.select(DispatchAttempt).where(DispatchAttempt.dispatch_config_id == config_id)
    if filters.activity_id is not None:
        stmt = stmt.where(DispatchAttempt.activity_id == filters.activity_id)
    if filters.outcome is not None:
        stmt = stmt.where(DispatchAttempt.outcome == filters.outcome.value)
    if filters.trigger is not None:
        stmt = stmt.where(DispatchAttempt.trigger == filters.trigger.value)
    if filters.created_from is not None:
        stmt = stmt.where(DispatchAttempt.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(DispatchAttempt.created_at < filters.created_to)
    return await paginate(session, stmt, NEWEST_FIRST, params)


async def activity_attempts(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[DispatchAttempt]:
    """Every attempt of one activity, across the configs it went through, newest first."""
    repo = TenantRepository(session, tenant_id)
    found = await session.execute(
        repo.where(Activity, select(Activity.id)).where(Activity.id == activity_id)
    )
    if found.first() is None:
        raise NotFound(ACTIVITY_NOT_FOUND)
    return await attempts_of(session, tenant_id, activity_id)


async def attempts_of(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> list[DispatchAttempt]:
    """`activity_attempts` of an activity the caller already found in the tenant."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.select(DispatchAttempt)
        .where(DispatchAttempt.activity_id == activity_id)
        .order_by(*NEWEST_FIRST)
    )
    return list((await session.execute(stmt)).scalars())


# --- helpers --------------------------------------------------------------------------------------


async def _live(
    session: AsyncSession, tenant_id: uuid.UUID, config_id: uuid.UUID, *, lock: bool = False
) -> DispatchConfig:
    """The tenant's config unless deleted; locked for the transaction when it is to be changed."""
    stmt = (
        TenantRepository(session, tenant_id)
        .select(DispatchConfig)
        .where(DispatchConfig.id == config_id, DispatchConfig.deleted_at.is_(None))
    )
    if lock:
        stmt = stmt.with_for_update()
    config = (await session.execute(stmt)).scalar_one_or_none()
    if config is None:
        raise NotFound(CONFIG_NOT_FOUND)
    return config


async def _provider_of(session: AsyncSession, config: DispatchConfig) -> DispatchProvider:
    provider = await session.get(DispatchProvider, config.dispatch_provider_id)
    # The foreign key is ON DELETE RESTRICT: a config's provider always exists.
    assert provider is not None
    return provider


async def _definition(
    session: AsyncSession, provider_id: uuid.UUID, channel: str
) -> ChannelDefinition | None:
    stmt = select(ChannelDefinition).where(
        ChannelDefinition.dispatch_provider_id == provider_id, ChannelDefinition.channel == channel
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _required_keys(schema: list[dict[str, Any]]) -> list[str]:
    return [str(item["key"]) for item in schema if item.get("required")]


def _credential_problems(
    data: SpelledInput, credentials: dict[str, Any] | None, schema: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The keys of `credentials` against the channel definition's credentialSchema."""
    known = [str(item["key"]) for item in schema]
    given = credentials or {}
    expected = f"expected {', '.join(known)}" if known else "it takes none"
    problems = [
        {
            "field": data.spelled("credentials", key),
            "message": f"is not a credential of this provider ({expected})",
        }
        for key in given
        if key not in known
    ]
    problems.extend(
        {"field": data.spelled("credentials", key), "message": "is required"}
        for key in _required_keys(schema)
        if key not in given
    )
    return problems


def _base_url_required(data: SpelledInput, provider: DispatchProvider) -> dict[str, str]:
    return {
        "field": data.spelled("base_url"),
        "message": f"is required for provider {provider.code}",
    }


def _store_credentials(
    secretbox: SecretBox,
    config: DispatchConfig,
    credentials: dict[str, Any] | None,
    schema: list[dict[str, Any]],
) -> None:
    """Seal the whole object; keep its key names, in the schema's order, in clear.

    An empty object is stored as none at all, so `hasCredentials` means there is something."""
    if not credentials:
        config.credentials_encrypted = None
        config.credential_keys = []
        return
    order = {str(item["key"]): i for i, item in enumerate(schema)}
    config.credentials_encrypted = secretbox.seal(orjson.dumps(credentials).decode())
    config.credential_keys = sorted(credentials, key=lambda k: (order.get(k, len(order)), k))


def _activate(config: DispatchConfig) -> None:
    config.is_active = True
    config.consecutive_failures = 0
    config.deactivated_reason = None
    config.deactivated_at = None


def _deactivate(config: DispatchConfig, now: datetime) -> None:
    config.is_active = False
    config.deactivated_reason = DeactivationReason.MANUAL.value
    config.deactivated_at = now


def _update_action(before: dict[str, Any], config: DispatchConfig) -> AuditAction:
    """A PATCH that switches the config on or off is recorded as that; any other as an update."""
    if before["isActive"] != config.is_active:
        if config.is_active:
            return AuditAction.DISPATCH_CONFIG_ACTIVATED
        return AuditAction.DISPATCH_CONFIG_DEACTIVATED
    return AuditAction.DISPATCH_CONFIG_UPDATED


async def _commit(session: AsyncSession, *, wake_dispatcher: bool = False) -> None:
    """Commit, answering rule 1A's unique violation with 409 whichever step meets it.

    With `wake_dispatcher` the dispatcher is told in the same transaction, so it hears of the
    newly active config exactly when, and only if, the commit succeeds."""
    async with unique_as_conflict(session):
        await session.flush()
        if wake_dispatcher:
            mark(session.sync_session)
        await session.commit()


# --- health (the admin dashboard) -----------------------------------------------------------------


@dataclass(frozen=True)
class ChannelHealth:
    """Deliveries of one channel since a moment, and its configs that are failing."""

    channel: str
    successes: int
    failures: int
    failing: list[ConfigView]

    @property
    def attempts(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> float | None:
        """Share of successful attempts (0..1), None without attempts."""
        return self.successes / self.attempts if self.attempts else None


def is_failing(config: DispatchConfig) -> bool:
    """Deactivated by the breaker or a 410, or failing right now."""
    return config.consecutive_failures > 0 or config.deactivated_reason in (
        DeactivationReason.HTTP_410.value,
        DeactivationReason.CONSECUTIVE_FAILURES.value,
    )


async def channel_health(
    session: AsyncSession, tenant_id: uuid.UUID, since: datetime
) -> list[ChannelHealth]:
    """One entry per channel that has a config or an attempt since `since`, by channel name."""
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(
            DispatchAttempt,
            select(DispatchConfig.channel, DispatchAttempt.outcome, func.count()),
        )
        .join(DispatchConfig, DispatchConfig.id == DispatchAttempt.dispatch_config_id)
        .where(DispatchAttempt.created_at >= since)
        .group_by(DispatchConfig.channel, DispatchAttempt.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for channel, outcome, n in (await session.execute(stmt)).all():
        counts.setdefault(channel, {})[outcome] = int(n)
    configs = await list_configs(session, tenant_id)
    channels = sorted(set(counts) | {v.config.channel for v in configs})
    return [
        ChannelHealth(
            channel=channel,
            successes=counts.get(channel, {}).get(DeliveryOutcome.SUCCESS.value, 0),
            failures=counts.get(channel, {}).get(DeliveryOutcome.FAILURE.value, 0),
            failing=[v for v in configs if v.config.channel == channel and is_failing(v.config)],
        )
        for channel in channels
    ]
