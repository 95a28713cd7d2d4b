"""The delivery engine: claiming, ON_DISPATCH resolution, and writing what an attempt did.

Each step is its own short transaction; the HTTP request itself (dispatch.delivery) runs with no
transaction open. A claim is a lease (`lease_until`): until it expires nobody else delivers the
activity, and if this process dies the activity becomes claimable again (at least once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, case, func, or_, select, tuple_, type_coerce, union, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from reten import metrics
from reten.activities.lifecycle import ActivityStatus, Trigger, decide
from reten.activities.models import Activity
from reten.activities.service import (
    TRANSITION_ROUNDS,
    apply_transition,
    apply_transition_many,
    state_of,
    write_if_unchanged,
)
from reten.activity_config.models import AttributeStrategy, TargetResolutionStrategy
from reten.audit import service as audit
from reten.audit.models import AuditAction, AuditTargetType
from reten.dispatch.delivery import AttemptResult
from reten.dispatch.models import (
    DeactivationReason,
    DeliveryTrigger,
    DispatchAttempt,
    DispatchConfig,
    DispatchProvider,
)
from reten.dispatch.providers import provider_for
from reten.dispatch.providers.base import DeliveryConfig, Provider
from reten.dispatch.service import open_config_secrets, settings_of
from reten.kit.actor import Actor
from reten.kit.db import Database, TenantRepository, UTCDateTime, table_of
from reten.kit.secretbox import SecretBox, SecretBoxError
from reten.kit.time import ensure_utc, utcnow
from reten.resolution import service as resolution
from reten.resolution.models import ActivityAttribute, ActivityTargetUser

log = structlog.get_logger("reten.dispatch")

# A delivery never holds its lease for less than its timeout plus this margin.
LEASE_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class ConfigSnapshot:
    """A dispatch config as one round of deliveries sees it, secrets opened."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    channel: str
    provider: Provider
    delivery: DeliveryConfig
    timeout_seconds: float
    retry_schedule: tuple[int, ...]
    max_concurrency: int
    disable_after: int
    consecutive_failures: int

    def lease(self, minimum_seconds: float) -> timedelta:
        return timedelta(seconds=max(minimum_seconds, self.timeout_seconds + LEASE_MARGIN_SECONDS))


def snapshot(
    config: DispatchConfig, provider_code: str, secretbox: SecretBox, now: datetime
) -> ConfigSnapshot:
    credentials, secrets = open_config_secrets(secretbox, config, now)
    settings = settings_of(config)
    return ConfigSnapshot(
        id=config.id,
        tenant_id=config.tenant_id,
        channel=config.channel,
        provider=provider_for(provider_code),
        delivery=DeliveryConfig(
            base_url=config.base_url, credentials=credentials, signing_secrets=secrets
        ),
        timeout_seconds=float(settings["timeout_seconds"]),
        retry_schedule=tuple(settings["retry_schedule"]),
        max_concurrency=int(settings["max_concurrency"]),
        disable_after=int(settings["disable_after_consecutive_failures"]),
        consecutive_failures=config.consecutive_failures,
    )


def configs_with_provider() -> Any:
    return select(DispatchConfig, DispatchProvider.code).join(
        DispatchProvider, DispatchProvider.id == DispatchConfig.dispatch_provider_id
    )


async def active_snapshots(
    session: AsyncSession, secretbox: SecretBox, now: datetime
) -> list[ConfigSnapshot]:
    """Every tenant's active configs (the dispatcher's view of what may be delivered)."""
    rows = await session.execute(
        configs_with_provider().where(
            DispatchConfig.is_active.is_(True),
            DispatchConfig.deleted_at.is_(None),
            DispatchProvider.is_active.is_(True),
        )
    )
    snapshots = []
    for config, code in rows.all():
        try:
            snapshots.append(snapshot(config, code, secretbox, now))
        except (SecretBoxError, KeyError):
            # Sealed under a key this process does not hold (RETEN_ENCRYPTION_KEY changed without
            # RETEN_ENCRYPTION_PREVIOUS_KEYS), or a provider this version no longer has: skip
            # this config and keep delivering the others.
            log.error("dispatch_config_unusable", config_id=str(config.id), provider=code)
    return snapshots


def _due(now: datetime) -> Any:
    """READY, its next attempt due, and not leased by anyone."""
    return (
        (Activity.status == ActivityStatus.READY.value)
        & or_(Activity.next_attempt_at.is_(None), Activity.next_attempt_at <= now)
        & or_(Activity.lease_until.is_(None), Activity.lease_until < now)
    )


async def deliverable_backlog(session: AsyncSession, now: datetime) -> tuple[int, datetime | None]:
    """How many activities are due for delivery through an active config (leased or not), and
    since when the oldest of them has been due (its next attempt, or its creation)."""
    due_since = type_coerce(
        func.coalesce(Activity.next_attempt_at, Activity.created_at), UTCDateTime
    )
    row = (
        await session.execute(
            select(func.count(), func.min(due_since))
            .select_from(Activity)
            .join(
                DispatchConfig,
                (DispatchConfig.tenant_id == Activity.tenant_id)
                & (DispatchConfig.channel == Activity.channel)
                & DispatchConfig.is_active.is_(True)
                & DispatchConfig.deleted_at.is_(None),
            )
            .where(
                Activity.status == ActivityStatus.READY.value,
                or_(Activity.next_attempt_at.is_(None), Activity.next_attempt_at <= now),
            )
        )
    ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # SQLite hands an aggregate back as text
        oldest = datetime.fromisoformat(oldest)
    return int(row[0]), None if oldest is None else ensure_utc(oldest)


async def claim(
    session: AsyncSession,
    config: ConfigSnapshot,
    limit: int,
    now: datetime,
    lease_seconds: float,
    *,
    skip_locked: bool,
) -> list[Activity]:
    """Lease up to `limit` due activities of `config`'s channel, oldest first. Does not commit.

    On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take
    disjoint sets; on SQLite the write transaction itself serialises claimers.
    """
    stmt = (
        TenantRepository(session, config.tenant_id)
        .select(Activity)
        .where(
            Activity.channel == config.channel,
            _due(now),
        )
        .order_by(Activity.created_at, Activity.id)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    activities = list((await session.execute(stmt)).scalars())
    if not activities:
        return []
    first_wait = config.retry_schedule[0] if config.retry_schedule else 0
    if first_wait > 0:
        # The schedule's first entry counts from when the activity became deliverable: the first
        # time a dispatcher sees it with an active config. Park it until then; no attempt spent.
        fresh = [a for a in activities if a.attempt_count == 0 and a.next_attempt_at is None]
        if fresh:
            await session.execute(
                update(Activity)
                .where(Activity.id.in_([a.id for a in fresh]))
                .values(next_attempt_at=now + timedelta(seconds=first_wait))
                .execution_options(synchronize_session=False)
            )
            parked = {a.id for a in fresh}
            activities = [a for a in activities if a.id not in parked]
    await _lease(session, activities, now + config.lease(lease_seconds))
    return activities


async def claim_resends(
    session: AsyncSession,
    config: ConfigSnapshot,
    limit: int,
    now: datetime,
    lease_seconds: float,
    *,
    skip_locked: bool,
) -> list[Activity]:
    """Lease up to `limit` pending resends of `config`'s channel, oldest request first. A resend
    holds the same lease as a delivery, so no two dispatchers send it at once. Does not commit."""
    stmt = (
        select(Activity)
        .where(
            Activity.tenant_id == config.tenant_id,
            Activity.channel == config.channel,
            Activity.resend_requested_at.is_not(None),
            or_(Activity.lease_until.is_(None), Activity.lease_until < now),
        )
        .order_by(Activity.resend_requested_at, Activity.id)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    activities = list((await session.execute(stmt)).scalars())
    await _lease(session, activities, now + config.lease(lease_seconds))
    return activities


async def _lease(session: AsyncSession, activities: list[Activity], until: datetime) -> None:
    """Hold `activities` until `until`: no other dispatcher claims them meanwhile."""
    if not activities:
        return
    await session.execute(
        update(Activity)
        .where(Activity.id.in_([a.id for a in activities]))
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    for a in activities:
        set_committed_value(a, "lease_until", until)


async def needing_resolution(session: AsyncSession, activities: list[Activity]) -> set[uuid.UUID]:
    """Those whose dispatch cycle starts now and that have ON_DISPATCH resolution to run."""
    ids = [a.id for a in activities if a.attempt_count == 0]
    if not ids:
        return set()
    stmt = union(
        select(ActivityTargetUser.activity_id).where(
            ActivityTargetUser.activity_id.in_(ids),
            ActivityTargetUser.resolution_strategy == TargetResolutionStrategy.ON_DISPATCH.value,
        ),
        select(ActivityAttribute.activity_id).where(
            ActivityAttribute.activity_id.in_(ids),
            ActivityAttribute.resolution_strategy == AttributeStrategy.ON_DISPATCH.value,
        ),
    )
    return set((await session.execute(stmt)).scalars())


async def resolve_before_dispatch(db: Database, activity: Activity, actor: Actor) -> bool:
    """Run the ON_DISPATCH resolution. On failure the activity becomes UNRESOLVED (and is
    released); returns whether delivery may go on."""
    # Tenant hooks are called first, with no transaction open (a slow hook must not hold
    # database locks); the resolution then runs on their answers in one short transaction.
    async with db.sessionmaker() as session:
        calls = await resolution.dispatch_hook_calls(session, activity)
    answers = await resolution.call_hooks(calls)
    async with db.sessionmaker() as session:
        for _ in range(TRANSITION_ROUNDS):
            current = await session.get(Activity, activity.id, populate_existing=True)
            if current is None or current.status != ActivityStatus.READY.value:
                await session.rollback()
                return False
            failure = await resolution.resolve_for_dispatch(session, current, answers)
            if failure is None:
                await session.commit()
                return True
            transition = decide(state_of(current), Trigger.DISPATCH_RESOLUTION_FAILED)
            if await apply_transition(
                session,
                current,
                transition,
                actor,
                event_detail=failure,
                lifecycle_detail=failure,
                values={"lease_until": None},
            ):
                await session.commit()
                return False
            await session.rollback()
    return False


async def _write(session: AsyncSession, activity: Activity, values: dict[str, Any]) -> bool:
    """A compare-and-set update that changes no status (so it writes no status event)."""
    changes = {**values, "version": activity.version + 1, "updated_at": utcnow()}
    return await write_if_unchanged(session, activity, changes)


async def _auto_deactivate(
    session: AsyncSession, config_id: uuid.UUID, reason: DeactivationReason, now: datetime
) -> None:
    switched = (
        await session.execute(
            update(DispatchConfig)
            .where(DispatchConfig.id == config_id, DispatchConfig.is_active.is_(True))
            .values(
                is_active=False, deactivated_reason=reason.value, deactivated_at=now, updated_at=now
            )
            .returning(DispatchConfig.tenant_id, DispatchConfig.channel)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if switched is None:  # already off (another process got there first): nothing to record
        return
    audit.record(
        session, switched.tenant_id, Actor.system(), AuditAction.DISPATCH_CONFIG_DEACTIVATED,
        audit.Target(AuditTargetType.DISPATCH_CONFIG, config_id, switched.channel),
        {
            "changes": {
                "isActive": {"from": True, "to": False},
                "deactivatedReason": {"from": None, "to": reason.value},
            }
        },
    )  # fmt: skip
    log.warning("dispatch_config_deactivated", config_id=str(config_id), reason=reason.value)
    metrics.DISPATCH_DEACTIVATIONS.labels(reason.value).inc()


async def _count_exhausted(session: AsyncSession, config: ConfigSnapshot, now: datetime) -> None:
    """One more activity in a row exhausted its schedule on this config: the circuit breaker."""
    failures = (
        await session.execute(
            update(DispatchConfig)
            .where(DispatchConfig.id == config.id)
            .values(consecutive_failures=DispatchConfig.consecutive_failures + 1)
            .returning(DispatchConfig.consecutive_failures)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    if config.disable_after > 0 and failures >= config.disable_after:
        await _auto_deactivate(session, config.id, DeactivationReason.CONSECUTIVE_FAILURES, now)


def _attempt(
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID,
    config: ConfigSnapshot,
    result: AttemptResult,
    trigger: DeliveryTrigger,
    number: int,
    now: datetime,
) -> DispatchAttempt:
    return DispatchAttempt(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        activity_id=activity_id,
        dispatch_config_id=config.id,
        attempt_number=number,
        trigger=trigger.value,
        outcome=result.outcome.value,
        http_status=result.http_status,
        duration_ms=result.duration_ms,
        error=result.error[:2048] if result.error else None,
        response_excerpt=result.response_excerpt,
        request_id=result.request_id,
        created_at=now,
    )


async def settle(
    db: Database,
    activity: Activity,
    config: ConfigSnapshot,
    result: AttemptResult,
    trigger: DeliveryTrigger,
    actor: Actor,
    *,
    lock_targets: bool = True,
) -> Activity:
    """Write one SCHEDULED or MANUAL attempt and what it does to the activity and the config:
    DISPATCHED, a retry scheduled, or FAILED when the schedule is spent or the failure is final.
    Releases the lease. Returns the activity as written. `lock_targets` False skips locking the
    target user when the caller knows there is none to lock."""
    now = utcnow()
    async with db.sessionmaker() as session:
        current = activity
        for _ in range(TRANSITION_ROUNDS):
            number = current.attempt_total + 1
            values: dict[str, Any] = {
                "attempt_total": number,
                "last_attempt_at": now,
                "dispatch_config_id": config.id,
                "lease_until": None,
            }
            exhausted = False
            if current.status != ActivityStatus.READY.value:
                # Canceled or answered while in flight: log the attempt, change nothing else.
                written = await _write(session, current, values)
            elif result.ok:
                values.update(
                    attempt_count=current.attempt_count + 1,
                    dispatched_at=now,
                    next_attempt_at=None,
                    last_error=None,
                )
                transition = decide(state_of(current), Trigger.DISPATCH_ACCEPTED)
                written = await apply_transition(session, current, transition, actor, values=values)
                if written:
                    await _record_provider_ids(session, [(current, result)])
                    if lock_targets:
                        await resolution.lock_target_user(session, current)
            elif result.gone:
                # The endpoint is gone: stop the config, keep the activity waiting for a new
                # one. The attempt does not count against the activity's schedule.
                values.update(last_error=result.error, next_attempt_at=now)
                written = await _write(session, current, values)
            else:
                count = current.attempt_count + 1
                values.update(attempt_count=count, last_error=result.error)
                if result.retryable and count < len(config.retry_schedule):
                    wait = max(config.retry_schedule[count], result.retry_after_seconds or 0)
                    values["next_attempt_at"] = now + timedelta(seconds=wait)
                    written = await _write(session, current, values)
                else:
                    values["next_attempt_at"] = None
                    transition = decide(state_of(current), Trigger.DISPATCH_EXHAUSTED)
                    written = await apply_transition(
                        session,
                        current,
                        transition,
                        actor,
                        event_detail=result.error,
                        lifecycle_detail=result.error,
                        values=values,
                    )
                    exhausted = written
            if written:
                session.add(
                    _attempt(current.tenant_id, current.id, config, result, trigger, number, now)
                )
                if result.gone:
                    await _auto_deactivate(session, config.id, DeactivationReason.HTTP_410, now)
                elif exhausted:
                    await _count_exhausted(session, config, now)
                elif result.ok and config.consecutive_failures > 0:
                    await session.execute(
                        update(DispatchConfig)
                        .where(DispatchConfig.id == config.id)
                        .values(consecutive_failures=0)
                        .execution_options(synchronize_session=False)
                    )
                await session.commit()
                return current
            await session.rollback()
            fresh = await session.get(Activity, activity.id, populate_existing=True)
            if fresh is None:  # deleted with its tenant meanwhile
                return activity
            current = fresh
    raise RuntimeError(f"could not record the attempt on activity {activity.id}")


@dataclass(frozen=True)
class Outcome:
    """A finished SCHEDULED delivery waiting to be written."""

    activity: Activity
    config: ConfigSnapshot
    result: AttemptResult
    lock_targets: bool


async def settle_many(db: Database, outcomes: list[Outcome]) -> None:
    """Write many finished deliveries. Accepted deliveries of activities still as they were
    claimed are written together — one compare-and-set UPDATE per config, one INSERT each for
    their events and attempts, one commit — because a dispatcher at full speed finishes
    hundreds a second and a transaction each would cost more than the deliveries. The rest
    (failures, and rows someone else changed meanwhile) take `settle`'s path one by one."""
    grouped: dict[tuple[uuid.UUID, str, str], list[tuple[Outcome, Any]]] = {}
    single: list[Outcome] = []
    for outcome in outcomes:
        a = outcome.activity
        if not outcome.result.ok or a.status != ActivityStatus.READY.value:
            single.append(outcome)
            continue
        transition = decide(state_of(a), Trigger.DISPATCH_ACCEPTED)
        key = (outcome.config.id, transition.lifecycle_status.value, transition.phase.value)
        grouped.setdefault(key, []).append((outcome, transition))
    if grouped:
        single.extend(await _accept_together(db, grouped))
    for outcome in single:
        await settle(
            db,
            outcome.activity,
            outcome.config,
            outcome.result,
            DeliveryTrigger.SCHEDULED,
            Actor.system(),
            lock_targets=outcome.lock_targets,
        )


async def _accept_together(
    db: Database, grouped: dict[tuple[uuid.UUID, str, str], list[tuple[Outcome, Any]]]
) -> list[Outcome]:
    """The batch half of `settle_many`. Returns the outcomes it could not write."""
    now = utcnow()
    left: list[Outcome] = []
    async with db.sessionmaker() as session:
        written: list[Outcome] = []
        for (config_id, _, _), items in grouped.items():
            by_id = {o.activity.id: o for o, _ in items}
            accepted = await apply_transition_many(
                session,
                [(o.activity, t) for o, t in items],
                Actor.system(),
                {
                    "attempt_count": Activity.attempt_count + 1,
                    "attempt_total": Activity.attempt_total + 1,
                    "last_attempt_at": now,
                    "dispatch_config_id": config_id,
                    "lease_until": None,
                    "dispatched_at": now,
                    "next_attempt_at": None,
                    "last_error": None,
                },
            )
            written.extend(by_id.pop(a.id) for a in accepted)
            left.extend(by_id.values())
        if not written:
            await session.rollback()
            return left
        await _record_provider_ids(session, [(o.activity, o.result) for o in written])
        # The compare-and-set matched the version each activity was claimed at, so its attempt
        # number is the claimed total plus one.
        session.add_all(
            [
                _attempt(o.activity.tenant_id, o.activity.id, o.config, o.result,
                         DeliveryTrigger.SCHEDULED, o.activity.attempt_total + 1, now)
                for o in written
            ]
        )  # fmt: skip
        locking: dict[uuid.UUID, list[uuid.UUID]] = {}
        for o in written:
            if o.lock_targets:
                locking.setdefault(o.activity.tenant_id, []).append(o.activity.id)
        for tenant_id, ids in locking.items():
            await resolution.lock_target_users(session, tenant_id, ids)
        for config in {o.config.id: o.config for o in written}.values():
            if config.consecutive_failures > 0:
                await session.execute(
                    update(DispatchConfig)
                    .where(DispatchConfig.id == config.id)
                    .values(consecutive_failures=0)
                    .execution_options(synchronize_session=False)
                )
        await session.commit()
    return left


async def _record_provider_ids(
    session: AsyncSession, accepted: list[tuple[Activity, AttemptResult]]
) -> None:
    """Record the ids providers answered with, except one already given to another activity of
    the tenant (or twice in this batch): provider ids are unique per tenant."""
    wanted = [
        (a, r.provider_activity_id)
        for a, r in accepted
        if r.provider_activity_id is not None and a.provider_activity_id is None
    ]
    if not wanted:
        return
    rows = await session.execute(
        select(Activity.tenant_id, Activity.provider_activity_id).where(
            tuple_(Activity.tenant_id, Activity.provider_activity_id).in_(
                [(a.tenant_id, pid) for a, pid in wanted]
            )
        )
    )
    taken = {(tenant_id, pid) for tenant_id, pid in rows.all()}
    params = []
    for a, pid in wanted:
        if (a.tenant_id, pid) in taken:
            continue
        taken.add((a.tenant_id, pid))
        params.append({"b_id": a.id, "b_pid": pid})
    if params:
        # The table, not the entity: with a list of parameters the ORM would take this for a
        # bulk UPDATE by primary key and drop the `IS NULL` guard.
        table = table_of(Activity)
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.provider_activity_id.is_(None))
            .values(provider_activity_id=bindparam("b_pid")),
            params,
        )


async def settle_resend(
    db: Database,
    activity: Activity,
    config: ConfigSnapshot,
    result: AttemptResult,
) -> None:
    """A RESEND attempt: logged, numbered, the request and the lease cleared; nothing else about
    the activity changes. A resend requested again while this one was in flight stays pending."""
    now = utcnow()
    async with db.sessionmaker() as session:
        number = (
            await session.execute(
                update(Activity)
                .where(Activity.id == activity.id)
                .values(
                    attempt_total=Activity.attempt_total + 1,
                    last_attempt_at=now,
                    dispatch_config_id=config.id,
                    lease_until=None,
                    resend_requested_at=case(
                        (
                            Activity.resend_requested_at == activity.resend_requested_at,
                            None,
                        ),
                        else_=Activity.resend_requested_at,
                    ),
                )
                .returning(Activity.attempt_total, Activity.tenant_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if number is None:
            return
        session.add(
            _attempt(
                number.tenant_id,
                activity.id,
                config,
                result,
                DeliveryTrigger.RESEND,
                number.attempt_total,
                now,
            )
        )
        if result.gone:
            await _auto_deactivate(session, config.id, DeactivationReason.HTTP_410, now)
        await session.commit()
