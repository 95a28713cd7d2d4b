"""Dispatch actions on request: manual dispatch (11.12), retry-dispatch (11.13), resend (14.15)
and test deliveries (14.13, `reten dispatch test`). They share the dispatcher's engine, so a
manual attempt is recorded, leased and judged exactly like a scheduled one."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import ActivityStatus, Trigger, decide
from reten.activities.models import Activity, ActivityType
from reten.activities.service import TRANSITION_ROUNDS, apply_transition, state_of
from reten.config import Settings
from reten.dispatch.delivery import AttemptResult, Sender
from reten.dispatch.dispatcher import Dispatcher
from reten.dispatch.engine import (
    ConfigSnapshot,
    configs_with_provider,
    needing_resolution,
    resolve_before_dispatch,
    settle,
    snapshot,
)
from reten.dispatch.models import DeliveryTrigger, DispatchConfig, DispatchProvider
from reten.dispatch.payload import load_payloads, message_id, synthetic_payload
from reten.dispatch.service import active_config, may_retry_dispatch
from reten.kit import signal
from reten.kit.actor import Actor
from reten.kit.db import Database, TenantRepository
from reten.kit.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
)
from reten.kit.secretbox import SecretBox, SecretBoxError
from reten.kit.time import utcnow
from reten.tenants.models import Tenant

log = structlog.get_logger("reten.dispatch")


class DispatchService:
    """What one process holds for dispatch: the HTTP sender and the engine's settings."""

    def __init__(self, db: Database, settings: Settings, secretbox: SecretBox) -> None:
        self.db = db
        self.settings = settings
        self.secretbox = secretbox
        self.sender = Sender(
            allow_private_networks=settings.allow_private_networks,
            # No more connections than requests in flight: httpcore scans its whole pool on
            # every request, so a larger one only costs time.
            max_connections=settings.dispatch_concurrency,
        )

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> DispatchService:
        secretbox = SecretBox.from_settings(
            settings.secret_key, settings.encryption_key, settings.encryption_previous_keys
        )
        return cls(db, settings, secretbox)

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.db, self.settings, self.secretbox, self.sender)

    async def close(self) -> None:
        await self.sender.close()

    # --- configs -----------------------------------------------------------------------------

    async def _active(
        self, session: AsyncSession, tenant_id: uuid.UUID, channel: str
    ) -> ConfigSnapshot:
        config = await active_config(session, tenant_id, channel)
        if config is None:
            raise NotFound(f"No active dispatch config for channel {channel}")
        provider = await session.get(DispatchProvider, config.dispatch_provider_id)
        assert provider is not None  # a foreign key
        return self._snapshot(config, provider.code)

    def _snapshot(self, config: DispatchConfig, provider_code: str) -> ConfigSnapshot:
        try:
            return snapshot(config, provider_code, self.secretbox, utcnow())
        except SecretBoxError:
            log.error("dispatch_config_unreadable", config_id=str(config.id))
            raise ServiceUnavailable(
                "The dispatch config's credentials cannot be opened with this server's "
                "encryption keys (RETEN_ENCRYPTION_KEY / RETEN_ENCRYPTION_PREVIOUS_KEYS)"
            ) from None

    async def _deliver(
        self, config: ConfigSnapshot, payload: dict[str, Any], activity_id: uuid.UUID
    ) -> AttemptResult:
        return await self.sender.deliver(
            config.provider,
            payload,
            config.delivery,
            message_id=message_id(activity_id),
            timeout_seconds=config.timeout_seconds,
        )

    # --- 11.12 manual dispatch ---------------------------------------------------------------

    async def dispatch_now(
        self, tenant_id: uuid.UUID, activity_id: uuid.UUID, actor: Actor
    ) -> None:
        """One synchronous MANUAL attempt. Raises the API's errors; returns on success."""
        now = utcnow()
        async with self.db.sessionmaker() as session:
            activity = await TenantRepository(session, tenant_id).get(Activity, activity_id)
            if activity is None:
                raise NotFound("Activity not found")
            if activity.type != ActivityType.TASK.value:
                raise BadRequest("Activity is not a TASK")
            if activity.status != ActivityStatus.READY.value:
                raise InvalidTransition(
                    f"Activity in status {activity.status} cannot be dispatched"
                )
            config = await self._active(session, tenant_id, activity.channel)
            # Take the lease ourselves: a dispatcher round cannot deliver it meanwhile, and a
            # second manual request sees it taken.
            taken = await session.execute(
                update(Activity)
                .where(
                    Activity.id == activity.id,
                    Activity.status == ActivityStatus.READY.value,
                    or_(Activity.lease_until.is_(None), Activity.lease_until < now),
                )
                .values(lease_until=now + config.lease(self.settings.dispatch_lease_seconds))
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("Dispatch already in progress")
            due = await needing_resolution(session, [activity])
            await session.commit()
        if due and not await resolve_before_dispatch(self.db, activity, actor):
            async with self.db.sessionmaker() as session:
                current = await session.get(Activity, activity.id, populate_existing=True)
            if current is not None and current.status == ActivityStatus.UNRESOLVED.value:
                raise BadRequest("Resolution failed; activity is now UNRESOLVED")
            # Canceled or answered while its resolution ran: nothing is left to deliver.
            raise Conflict("The activity changed while it was being dispatched")
        async with self.db.sessionmaker() as session:
            payload = (await load_payloads(session, [activity], self.settings.public_url))[
                activity.id
            ]
        result = await self._deliver(config, payload, activity.id)
        await settle(self.db, activity, config, result, DeliveryTrigger.MANUAL, actor)
        if not result.ok:
            raise BadGateway(f"Dispatch attempt failed: {result.error}")

    # --- 11.13 retry-dispatch ----------------------------------------------------------------

    async def retry_dispatch(
        self, session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID, actor: Actor
    ) -> None:
        for _ in range(TRANSITION_ROUNDS):
            activity = await TenantRepository(session, tenant_id).get(Activity, activity_id)
            if activity is None:
                raise NotFound("Activity not found")
            state = state_of(activity)
            if not may_retry_dispatch(state):
                raise BadRequest("Activity is not in a dispatch-failed state")
            await self._active(session, tenant_id, activity.channel)
            transition = decide(state, Trigger.RETRY_DISPATCH)
            values = {
                "attempt_count": 0,
                "next_attempt_at": utcnow(),
                "last_error": None,
                "lease_until": None,
            }
            if await apply_transition(session, activity, transition, actor, values=values):
                await session.commit()
                return
            await session.rollback()
        raise Conflict("The activity is being updated concurrently; retry the request")

    # --- 14.15 resend ------------------------------------------------------------------------

    async def resend(self, tenant_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """Record the request (the 202 promises it) for the next dispatcher round, any process's."""
        async with self.db.sessionmaker() as session:
            activity = await TenantRepository(session, tenant_id).get(Activity, activity_id)
            if activity is None:
                raise NotFound("Activity not found")
            config = await self._active(session, tenant_id, activity.channel)
            if activity.status != ActivityStatus.DISPATCHED.value:
                raise BadRequest(f"Activity in status {activity.status} cannot be resent")
            await session.execute(
                update(Activity)
                .where(Activity.id == activity.id, Activity.resend_requested_at.is_(None))
                .values(resend_requested_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            signal.mark(session.sync_session)
            await session.commit()
        return {
            "activityId": str(activity.id),
            "dispatchConfigId": str(config.id),
            "requestId": message_id(activity.id) if config.provider.uses_network else None,
        }

    # --- 14.13 test delivery -----------------------------------------------------------------

    async def test_config(self, tenant_id: uuid.UUID, config_id: uuid.UUID) -> dict[str, Any]:
        """Deliver a synthetic activity through the config, active or not. Nothing is stored."""
        async with self.db.sessionmaker() as session:
            row = (
                await session.execute(
                    TenantRepository(session, tenant_id)
                    .where(DispatchConfig, configs_with_provider())
                    .where(
                        DispatchConfig.id == config_id,
                        DispatchConfig.deleted_at.is_(None),
                    )
                )
            ).first()
            if row is None:
                raise NotFound("Dispatch config not found")
            tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            config = self._snapshot(row[0], row[1])
        return await self._test(config, tenant)

    async def test_channel(self, tenant_slug: str, channel: str) -> dict[str, Any]:
        """`reten dispatch test`: the same through the tenant's active config of a channel."""
        from sqlalchemy import select

        async with self.db.sessionmaker() as session:
            tenant = (
                await session.execute(select(Tenant).where(Tenant.slug == tenant_slug))
            ).scalar_one_or_none()
            if tenant is None:
                raise NotFound(f"Tenant {tenant_slug} not found")
            config = await self._active(session, tenant.id, channel)
        return {"dispatchConfigId": str(config.id), **await self._test(config, tenant)}

    async def _test(self, config: ConfigSnapshot, tenant: Tenant) -> dict[str, Any]:
        payload = synthetic_payload(tenant, config.channel, self.settings.public_url)
        result = await self._deliver(config, payload, uuid.UUID(payload["id"]))
        return result.as_json()
