"""Task results: the one service behind both result endpoints (integration and management).

It links the result to an activity (or stores it STANDALONE), checks it against the tenant's
result types, asks the lifecycle what the result does to the activity, and writes the result,
the activity's new status and the status event in one transaction. Each endpoint only maps its
own vocabulary in and out.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import String, Uuid, and_, bindparam, insert, literal_column, null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten import metrics
from reten.activities import service as activities
from reten.activities.lifecycle import (
    LifecycleStatus,
    ResultConflict,
    ResultStatus,
    Transition,
    Trigger,
    decide,
)
from reten.activities.models import Activity, ActivityType, CommerceAssignment
from reten.activity_config import service as activity_config
from reten.activity_config.models import TaskResultType
from reten.commerces.models import Commerce
from reten.kit.actor import Actor
from reten.kit.db import Database, TenantRepository, table_of
from reten.kit.errors import AppError, Conflict, NotFound, ValidationFailed, error_body
from reten.kit.idempotency import IdempotencyClaim, fingerprint
from reten.kit.listing import AnySelect, paginate, parse_sort
from reten.kit.pagination import PageParams
from reten.kit.time import utcnow
from reten.operators.models import Operator
from reten.results.models import ActivityResult, ResultSource
from reten.results.views import result_rows

log = structlog.get_logger("reten.results")

# Clocks drift; a result may claim to have happened a little in the future, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)


# Fields the service may name in an error; endpoints map each to the caller's spelling.
RESULT_FIELD_NAMES = (
    "activity_id",
    "commerce_external_id",
    "occurred_at",
    "task_result.result",
    "task_result.future_scheduled_at",
)


@dataclass(frozen=True)
class ResultSubmission:
    """A result in the internal vocabulary; `fields` maps each input to the caller's spelling."""

    commerce_external_id: str
    occurred_at: datetime
    status: ResultStatus
    result_code: str
    activity_id: uuid.UUID | None = None
    provider_activity_id: str | None = None
    external_status: str | None = None
    hard_override: bool = False
    raw_payload: dict[str, Any] | None = None
    comment: str | None = None
    contact_type: str | None = None
    operator_external_id: str | None = None
    future_scheduled_at: datetime | None = None
    payload: dict[str, Any] | None = None
    field_names: dict[str, str] | None = None

    def field(self, name: str) -> str:
        return (self.field_names or {}).get(name, name)

    @classmethod
    def of(cls, body: Any, status: ResultStatus, field_names: dict[str, str]) -> ResultSubmission:
        """From a validated result body of either API (they share every field but `status`,
        which each endpoint maps from its own vocabulary)."""
        tr = body.task_result
        return cls(
            activity_id=body.activity_id,
            provider_activity_id=body.provider_activity_id,
            commerce_external_id=body.commerce_external_id,
            occurred_at=body.occurred_at,
            status=status,
            external_status=body.external_status,
            hard_override=body.hard_override,
            raw_payload=body.raw_payload,
            result_code=tr.result,
            comment=tr.comment,
            contact_type=tr.contact_type.value if tr.contact_type else None,
            operator_external_id=tr.operator_external_id,
            future_scheduled_at=tr.future_scheduled_at,
            payload=tr.payload,
            field_names=field_names,
        )


@dataclass(frozen=True)
class SubmittedResult:
    result: ActivityResult
    activity: Activity | None
    result_type: TaskResultType

    @property
    def lifecycle_status(self) -> LifecycleStatus | None:
        return LifecycleStatus(self.activity.lifecycle_status) if self.activity else None


@dataclass(frozen=True)
class Submission:
    """What the endpoint sends back: a fresh response or a replayed one."""

    status_code: int
    body: Any
    replayed: bool


async def submit(
    db: Database,
    tenant_id: uuid.UUID,
    actor: Actor,
    data: ResultSubmission,
    render: Callable[[SubmittedResult], dict[str, Any]],
    *,
    idempotency_key: str | None = None,
    request_body: Any = None,
) -> Submission:
    """Register a result, honouring `Idempotency-Key` when given.

    Without a key, where the database allows it (`Database.autocommit_sessionmaker`), the
    submission runs outside a transaction: its one write is one statement
    (`activities.apply_transition`), atomic by itself, and its read is checked by that
    statement's compare-and-set, so BEGIN and COMMIT would be two round trips that protect
    nothing. A submission that must write more (a hard override replacing a final result) starts
    again in a transaction."""
    claim = (
        IdempotencyClaim(tenant_id, idempotency_key, fingerprint(request_body))
        if idempotency_key is not None
        else None
    )
    request = _Request(tenant_id, actor, data, render, claim)
    if claim is None and db.autocommit_sessionmaker is not None:
        async with db.autocommit_sessionmaker() as session:
            try:
                return await _submit(session, request, one_statement=True)
            except _TwoWrites:
                pass
    async with db.sessionmaker() as session:
        return await _submit(session, request, one_statement=False)


@dataclass(frozen=True)
class _Request:
    """One submission as `submit` received it, with its idempotency claim when keyed."""

    tenant_id: uuid.UUID
    actor: Actor
    data: ResultSubmission
    render: Callable[[SubmittedResult], dict[str, Any]]
    claim: IdempotencyClaim | None


class _TwoWrites(Exception):
    """Raised before any write when a submission outside a transaction must write twice."""


async def _submit(session: AsyncSession, request: _Request, *, one_statement: bool) -> Submission:
    claim = request.claim
    if claim is not None:
        stored = await claim.begin(session)
        if stored is not None:
            metrics.result_replayed()
            return Submission(stored.status_code, stored.body, replayed=True)
    try:
        outcome = await _register(session, request, one_statement)
    except _TwoWrites:
        raise
    except AppError as exc:
        metrics.result_failed(exc.status_code)
        await session.rollback()
        if claim is not None:
            if exc.status_code < 500:
                await claim.complete(
                    session,
                    exc.status_code,
                    error_body(exc.status_code, exc.message, details=exc.details, extra=exc.extra),
                )
                await session.commit()
            else:
                await claim.release(session)
        raise
    except BaseException:
        metrics.result_failed(500)
        if claim is not None:
            await claim.release(session)
        raise
    metrics.result_created()
    return outcome


async def _register(session: AsyncSession, request: _Request, one_statement: bool) -> Submission:
    tenant_id, actor, data, claim = request.tenant_id, request.actor, request.data, request.claim
    if data.occurred_at > utcnow() + MAX_CLOCK_SKEW:
        raise ValidationFailed.one(
            data.field("occurred_at"), "must not be more than 5 minutes in the future"
        )
    for attempt in range(activities.TRANSITION_ROUNDS):
        found = await _lookup(session, tenant_id, data)
        activity = found.activity
        # Kept apart from the object: a refused INSERT rolls the session back and expires it.
        found_id = str(activity.id) if activity else None
        if activity is None and data.activity_id is not None:
            raise NotFound("Activity not found")
        if found.commerce_id is None:
            raise NotFound("Commerce not found")
        if activity is not None and found.assigned_commerce_id != found.commerce_id:
            raise ValidationFailed.one(
                data.field("commerce_external_id"), "does not match the activity's commerce"
            )
        result_type = await _check_result_type(session, tenant_id, data, found.result_type)

        transition: Transition | None = None
        if activity is not None:
            try:
                transition = decide(
                    activities.state_of(activity),
                    Trigger.RESULT,
                    result_status=data.status,
                    hard_override=data.hard_override,
                )
            except ResultConflict:
                raise Conflict(
                    "The activity already has a registered result",
                    extra={
                        "resultId": str(activity.final_result_id)
                        if activity.final_result_id
                        else None
                    },
                ) from None

        now = utcnow()
        result = ActivityResult(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            created_at=now,
            updated_at=now,
            superseded_by_id=None,
            activity_id=activity.id if activity else None,
            commerce_id=found.commerce_id,
            source=(ResultSource.RETEN_ACTIVITY if activity else ResultSource.STANDALONE).value,
            status=data.status.value,
            external_status=data.external_status,
            occurred_at=data.occurred_at,
            hard_override=data.hard_override,
            provider_activity_id=data.provider_activity_id
            or (activity.provider_activity_id if activity else None),
            raw_payload=data.raw_payload,
            activity_status=transition.to_status.value if transition else None,
            result_code=result_type.code,
            comment=data.comment,
            contact_type=data.contact_type,
            operator_external_id=data.operator_external_id,
            operator_id=found.operator_id,
            future_scheduled_at=data.future_scheduled_at,
            payload=data.payload,
            created_by_type=actor.type.value,
            created_by_id=actor.id,
            created_by_label=actor.label,
        )
        try:
            if activity is not None and transition is not None:
                applied = await _apply(
                    session, activity, transition, result, actor, data, one_statement
                )
                if not applied:
                    # Someone changed the activity since we read it: read again and re-decide.
                    await session.rollback()
                    continue
            else:
                await _insert(session, result)
            submitted = SubmittedResult(result, activity, result_type)
            body = request.render(submitted)
            if claim is not None:
                await claim.complete(session, 201, body)
            await session.commit()
        except IntegrityError:
            # The database refused a second current final result: another request won (the
            # next round reads its result and answers 409).
            await session.rollback()
            log.info("result_race_lost", activity_id=found_id, attempt=attempt)
            continue
        log.info(
            "result_registered",
            result_id=str(result.id),
            activity_id=str(activity.id) if activity else None,
            status=result.status,
        )
        return Submission(201, body, replayed=False)
    raise Conflict("The activity is being updated concurrently; retry the request")


@dataclass(frozen=True)
class _Found:
    activity: Activity | None
    assigned_commerce_id: uuid.UUID | None
    commerce_id: uuid.UUID | None
    result_type: TaskResultType | None
    operator_id: uuid.UUID | None


async def _lookup(session: AsyncSession, tenant_id: uuid.UUID, data: ResultSubmission) -> _Found:
    """Everything a submission is checked against, in one statement (one round trip instead of
    five): the activity (by id or by the external system's id), the commerce it is assigned
    to, the commerce named by the body, the active result type and the operator's id (the first
    by creation when several share the external id). Every lookup is scoped to the tenant."""
    if data.activity_id is None and data.provider_activity_id is None:
        raise ValidationFailed.one(
            data.field("activity_id"), "activity_id or provider_activity_id is required"
        )
    by_id = data.activity_id is not None
    stmt = _lookup_statement(by_id, data.operator_external_id is not None)
    params = {
        "tenant_id": tenant_id,
        "activity": data.activity_id if by_id else data.provider_activity_id,
        "commerce_external_id": data.commerce_external_id,
        "result_code": data.result_code,
        "operator_external_id": data.operator_external_id,
    }
    row = (await session.execute(stmt, params)).one()
    return _Found(row[0], row[1], row[2], row[3], row[4])


@functools.cache
def _lookup_statement(by_id: bool, with_operator: bool) -> AnySelect:
    """`_lookup`'s statement, built once per variant with the values as bound parameters (building
    it per request cost more than running it)."""
    tenant = bindparam("tenant_id", type_=Uuid)
    one = select(literal_column("1").label("one")).subquery("one")
    picks = (
        Activity.id == bindparam("activity", type_=Uuid)
        if by_id
        else Activity.provider_activity_id == bindparam("activity", type_=String)
    )
    assigned = (
        select(CommerceAssignment.commerce_id)
        .where(
            CommerceAssignment.tenant_id == tenant, CommerceAssignment.activity_id == Activity.id
        )
        .scalar_subquery()
    )
    commerce = (
        select(Commerce.id)
        .where(
            Commerce.tenant_id == tenant,
            Commerce.external_id == bindparam("commerce_external_id", type_=String),
        )
        .scalar_subquery()
    )
    operator = (
        select(Operator.id)
        .where(
            Operator.tenant_id == tenant,
            Operator.external_id == bindparam("operator_external_id", type_=String),
        )
        .order_by(Operator.created_at, Operator.id)
        .limit(1)
        .scalar_subquery()
        if with_operator
        else null()
    )
    return (
        select(Activity, assigned, commerce, TaskResultType, operator)
        .select_from(one)
        .outerjoin(
            Activity,
            and_(Activity.tenant_id == tenant, picks, Activity.type == ActivityType.TASK.value),
        )
        .outerjoin(
            TaskResultType,
            and_(
                TaskResultType.tenant_id == tenant,
                TaskResultType.code == bindparam("result_code", type_=String),
                TaskResultType.is_active.is_(True),
            ),
        )
    )


async def _check_result_type(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: ResultSubmission,
    result_type: TaskResultType | None,
) -> TaskResultType:
    if result_type is None:
        codes = [
            t.code for t in await activity_config.list_types(session, tenant_id, is_active=True)
        ]
        valid = ", ".join(codes) if codes else "(none configured)"
        raise ValidationFailed.one(data.field("task_result.result"), f"must be one of {valid}")
    if result_type.requires_future_scheduled_at:
        name = data.field("task_result.future_scheduled_at")
        if data.future_scheduled_at is None:
            raise ValidationFailed.one(name, f"is required for result {result_type.code}")
        if data.future_scheduled_at <= utcnow():
            raise ValidationFailed.one(name, "must be in the future")
    return result_type


async def _apply(
    session: AsyncSession,
    activity: Activity,
    transition: Transition,
    result: ActivityResult,
    actor: Actor,
    data: ResultSubmission,
    one_statement: bool,
) -> bool:
    superseded = activity.final_result_id if transition.supersedes else None
    if superseded is not None and one_statement:
        raise _TwoWrites
    values: dict[str, Any] = {"current_result_id": result.id}
    if data.status != ResultStatus.PENDING:
        values["final_result_id"] = result.id
    if data.activity_id and data.provider_activity_id and activity.provider_activity_id is None:
        # Both ids given and none recorded yet: remember the external system's id. It is unique
        # per tenant, so an id already recorded on another activity is a conflict, not a retry.
        repo = TenantRepository(session, activity.tenant_id)
        taken = await session.execute(
            repo.where(Activity, select(Activity.id)).where(
                Activity.provider_activity_id == data.provider_activity_id
            )
        )
        if taken.first() is not None:
            raise Conflict("provider_activity_id already exists")
        values["provider_activity_id"] = data.provider_activity_id
    # The replaced result is marked first, so the new one never meets it in the one-current-final
    # index. The result itself is written by the transition, with the activity's compare-and-set
    # UPDATE and the event (on PostgreSQL in one statement, see `apply_transition`); a lost race
    # rolls everything back. The task list's read model renders the item once, from that UPDATE,
    # with the result already there.
    if superseded is not None:
        await session.execute(
            TenantRepository(session, activity.tenant_id)
            .update(ActivityResult)
            .where(ActivityResult.id == superseded)
            .values(superseded_by_id=result.id)
            .execution_options(synchronize_session=False)
        )
    detail = f"result {result.id} {result.status}"
    return await activities.apply_transition(
        session,
        activity,
        transition,
        actor,
        values=values,
        event_detail=detail,
        with_row=(_RESULTS, _row_of(result)),
    )


async def _insert(session: AsyncSession, result: ActivityResult) -> None:
    """Write a STANDALONE `result` with a Core INSERT."""
    await session.execute(_INSERT_RESULT, _row_of(result))


def _row_of(result: ActivityResult) -> dict[str, Any]:
    """Every column of `result` (built with all of them set), for a Core INSERT. The object stays
    out of the session: the ORM's unit of work cost more than the statement itself, and the
    object is only read afterwards, to render the response."""
    return {key: getattr(result, key) for key in _RESULT_COLUMNS}


_RESULTS = table_of(ActivityResult)
_RESULT_COLUMNS = tuple(column.key for column in _RESULTS.columns)
_INSERT_RESULT = insert(_RESULTS)


@dataclass(frozen=True)
class ResultFilters:
    activity_id: uuid.UUID | None = None
    commerce_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    commerce_external_id: str | None = None
    provider_activity_id: str | None = None
    operator_external_id: str | None = None
    source: str | None = None
    statuses: tuple[str, ...] = ()
    result: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    include_superseded: bool = False


async def list_results(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    f: ResultFilters,
    sort: str | None,
    page: PageParams,
) -> tuple[list[Any], int, bool]:
    repo = TenantRepository(session, tenant_id)
    stmt = result_rows(repo)
    R = ActivityResult
    clauses: list[Any] = []
    if f.activity_id is not None:
        clauses.append(R.activity_id == f.activity_id)
    if f.commerce_id is not None:
        clauses.append(R.commerce_id == f.commerce_id)
    if f.operator_id is not None:
        clauses.append(R.operator_id == f.operator_id)
    if f.commerce_external_id is not None:
        clauses.append(Commerce.external_id == f.commerce_external_id)
    if f.provider_activity_id is not None:
        clauses.append(R.provider_activity_id == f.provider_activity_id)
    if f.operator_external_id is not None:
        clauses.append(R.operator_external_id == f.operator_external_id)
    if f.source is not None:
        clauses.append(R.source == f.source)
    if f.statuses:
        clauses.append(R.status.in_(f.statuses))
    if f.result is not None:
        clauses.append(R.result_code == f.result)
    if f.occurred_from is not None:
        clauses.append(R.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        clauses.append(R.occurred_at <= f.occurred_to)
    if clauses:
        stmt = stmt.where(*clauses)
    if not f.include_superseded:
        stmt = stmt.where(R.superseded_by_id.is_(None))
    order = parse_sort(
        sort, {"occurred_at": R.occurred_at, "created_at": R.created_at}, "-created_at", R.id
    )
    return await paginate(session, stmt, order, page, scalars=False)


async def result_row(session: AsyncSession, tenant_id: uuid.UUID, result_id: uuid.UUID) -> Any:
    repo = TenantRepository(session, tenant_id)
    return (await session.execute(result_rows(repo).where(ActivityResult.id == result_id))).first()
