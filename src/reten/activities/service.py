"""Activities: creation and the one place where a status change is written.

`apply_transition` is how every status change reaches the database: a compare-and-set on the
activity's version (so a change decided on stale state is dropped, never applied twice), plus
exactly one status event with its actor, in the caller's transaction.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from reten.activities.lifecycle import (
    ActivityState,
    ActivityStatus,
    LifecycleStatus,
    Phase,
    Transition,
    Trigger,
    decide,
)
from reten.activities.models import (
    Activity,
    ActivityStatusEvent,
    ActivityType,
    Channel,
    CommerceAssignment,
    TaskDetails,
)
from reten.activities.schemas import ActivityCreate
from reten.activities.views import activity_rows
from reten.commerces.models import Commerce
from reten.kit import signal
from reten.kit.actor import Actor
from reten.kit.counts import mark_changed
from reten.kit.db import TenantRepository, table_of
from reten.kit.errors import BadRequest, Conflict, NotFound, ValidationFailed
from reten.kit.listing import paginate, parse_sort, search_clause
from reten.kit.pagination import PageParams
from reten.kit.time import utcnow
from reten.operators.models import Operator
from reten.resolution import service as resolution
from reten.resolution.service import ResolutionRequest
from reten.routes.models import Route, RouteOperator


@dataclass(frozen=True)
class ActivityInput:
    type: ActivityType
    channel: Channel
    reason: str
    commerce_id: uuid.UUID
    idempotency_key: str
    scheduled_at: datetime
    suggested_execution_time: datetime | None = None
    user_status: str | None = None
    score: int | None = None
    assignment_reason: str | None = None
    assigned_route_id: uuid.UUID | None = None
    assigned_operator_id: uuid.UUID | None = None


def state_of(activity: Activity) -> ActivityState:
    """The lifecycle's view of a stored activity."""
    return state_of_columns(
        activity.status,
        activity.final_result_id is not None,
        activity.lifecycle_status,
        activity.current_result_id is not None,
    )


@functools.lru_cache(maxsize=256)
def state_of_columns(
    status: str, has_final_result: bool, lifecycle_status: str, has_any_result: bool
) -> ActivityState:
    """`state_of` from the stored columns (list rows have no entity); only a handful of distinct
    states exist, so each is built once."""
    return ActivityState(
        status=ActivityStatus(status),
        has_final_result=has_final_result,
        # Exact: the stored lifecycle status is IN_PROGRESS iff the latest result is PENDING
        # on an activity that is not terminal, and a terminal activity's latest is final.
        latest_result_pending=lifecycle_status == LifecycleStatus.IN_PROGRESS.value,
        has_any_result=has_any_result,
    )


# Compare-and-set rounds before giving up on an activity other writers keep changing: every
# loop that reads an activity, decides, and writes through apply_transition (or
# write_if_unchanged) uses this limit, then answers 409 or leaves the activity as it is.
TRANSITION_ROUNDS = 10


async def apply_transition(
    session: AsyncSession,
    activity: Activity,
    transition: Transition,
    actor: Actor,
    *,
    event_detail: str | None = None,
    lifecycle_detail: str | None = None,
    values: dict[str, Any] | None = None,
    with_row: tuple[Table, dict[str, Any]] | None = None,
) -> bool:
    """Write `transition` if the activity is still at the version it was read at.

    Returns False (and writes nothing of its own) when another writer got there first; the
    caller rolls back, re-reads and decides again. Does not commit. `with_row` is a row (a
    table and every column's value) that belongs to the transition, such as the result that
    causes it: it is written with the activity and its event.

    On PostgreSQL the compare-and-set UPDATE, the event and `with_row` are one statement
    (`_one_statement`): each statement is a round trip and, through SQLAlchemy and asyncpg, a
    fixed cost in the server's CPU larger than executing it, on the two hottest writes (a
    result submission and a delivery outcome). SQLite has no data-modifying CTEs, and no round
    trips to save: there they are separate statements, `with_row` first.
    """
    now = utcnow()
    changes: dict[str, Any] = {
        "status": transition.to_status.value,
        "lifecycle_status": transition.lifecycle_status.value,
        "phase": transition.phase.value,
        # Shown to integrators as lifecycleStatusDetail (a dispatch error, a cancel reason...).
        "lifecycle_detail": lifecycle_detail,
        "version": activity.version + 1,
        "updated_at": now,
        **(values or {}),
    }
    event = _event_values(activity, transition, actor, event_detail, now)
    if session.get_bind().dialect.name == "postgresql":
        if not await _write_in_one_statement(session, activity, changes, event, with_row):
            return False
    else:
        if with_row is not None:
            await session.execute(insert(with_row[0]), with_row[1])
        if not await write_if_unchanged(session, activity, changes):
            return False
        await session.execute(_INSERT_EVENT, event)
    mark_changed(session.sync_session, activity.tenant_id)
    if transition.to_status == ActivityStatus.READY:
        signal.mark(session.sync_session)
    return True


async def apply_transition_many(
    session: AsyncSession,
    moves: Sequence[tuple[Activity, Transition]],
    actor: Actor,
    values: dict[str, Any],
) -> list[Activity]:
    """`apply_transition` for many activities making the same move with the same `values`: one
    compare-and-set UPDATE for all of them and one multi-row INSERT of their events. Returns
    those written; the others were changed by someone else and are for the caller to re-read.
    Does not commit. (The dispatcher's group commit: hundreds of deliveries a second.)"""
    if not moves:
        return []
    first = moves[0][1]
    assert all(
        (t.to_status, t.event, t.lifecycle_status, t.phase)
        == (first.to_status, first.event, first.lifecycle_status, first.phase)
        for _, t in moves
    ), "apply_transition_many needs one move for all"
    now = utcnow()
    changes: dict[str, Any] = {
        "status": first.to_status.value,
        "lifecycle_status": first.lifecycle_status.value,
        "phase": first.phase.value,
        "lifecycle_detail": None,
        "version": Activity.version + 1,
        "updated_at": now,
        **values,
    }
    rows = await session.execute(
        update(Activity)
        .where(tuple_(Activity.id, Activity.version).in_([(a.id, a.version) for a, _ in moves]))
        .values(**changes)
        .returning(Activity.id)
        .execution_options(synchronize_session=False)
    )
    done = set(rows.scalars())
    written = [(a, t) for a, t in moves if a.id in done]
    session.add_all([_event(a, t, actor, None, now) for a, t in written])
    for tenant_id in {a.tenant_id for a, _ in written}:
        mark_changed(session.sync_session, tenant_id)
    if first.to_status == ActivityStatus.READY:
        signal.mark(session.sync_session)
    return [a for a, _ in written]


# A Core INSERT built once: it runs on every result submission, and the ORM's unit of work (or a
# statement built per call) cost more than executing it. Creation and apply_transition_many keep
# `_event` objects on purpose: the unit of work orders them after their activities' INSERTs and
# writes a whole batch's events in one multi-row statement.
_INSERT_EVENT = insert(table_of(ActivityStatusEvent))


@functools.lru_cache(maxsize=64)
def _compare_and_set(keys: tuple[str, ...]) -> Update:
    """The compare-and-set UPDATE setting `keys`, built once per set of keys with every value
    bound: it runs in every transition (each result submission), and building and keying a
    fresh statement cost more than executing it. The table, not the entity: the ORM's bulk
    UPDATE has nothing to synchronise (the caller mirrors the values on the object)."""
    table = table_of(Activity)
    return (
        update(table)
        .where(table.c.id == bindparam("cas_id"), table.c.version == bindparam("cas_version"))
        .values({key: bindparam(f"new_{key}") for key in keys})
    )


@functools.lru_cache(maxsize=64)
def _one_statement(keys: tuple[str, ...], with_table: Table | None) -> Select[int]:
    """`_compare_and_set(keys)` with the event's INSERT (and a `with_table` row's) in one
    statement, built once per shape:

        WITH cas AS (UPDATE activities SET … WHERE id = … AND version = … RETURNING id),
             event AS (INSERT INTO activity_status_events SELECT <values> FROM cas),
             row AS (INSERT INTO <with_table> SELECT <values> FROM cas)
        SELECT count(*) FROM cas

    Each INSERT selects from `cas`, so it writes nothing when the activity has moved on (the
    count is then 0). All three happen at once as far as the task list's read model is
    concerned: its triggers run after the whole statement and see the row too."""
    cas = _compare_and_set(keys).returning(table_of(Activity).c.id).cte("cas")

    def insert_from_cas(table: Table, prefix: str) -> Insert:
        columns = list(table.columns)
        values = select(*(bindparam(f"{prefix}{c.key}", type_=c.type) for c in columns))
        return insert(table).from_select([c.key for c in columns], values.select_from(cas))

    stmt = select(func.count()).select_from(cas)
    stmt = stmt.add_cte(insert_from_cas(table_of(ActivityStatusEvent), "event_").cte("event"))
    if with_table is not None:
        stmt = stmt.add_cte(insert_from_cas(with_table, "row_").cte("row"))
    return stmt


async def _write_in_one_statement(
    session: AsyncSession,
    activity: Activity,
    changes: dict[str, Any],
    event: dict[str, Any],
    with_row: tuple[Table, dict[str, Any]] | None,
) -> bool:
    params = {
        "cas_id": activity.id,
        "cas_version": activity.version,
        **{f"new_{key}": value for key, value in changes.items()},
        **{f"event_{key}": value for key, value in event.items()},
    }
    if with_row is not None:
        params.update({f"row_{key}": value for key, value in with_row[1].items()})
    stmt = _one_statement(tuple(changes), with_row[0] if with_row is not None else None)
    if (await session.execute(stmt, params)).scalar_one() != 1:
        return False
    _mirror(activity, changes)
    return True


async def write_if_unchanged(
    session: AsyncSession, activity: Activity, changes: dict[str, Any]
) -> bool:
    """UPDATE the activity with `changes` (which bump `version`) if it is still at the version it
    was read at; mirror them on the object. False, and nothing written, otherwise."""
    params = {f"new_{key}": value for key, value in changes.items()}
    result = await session.execute(
        _compare_and_set(tuple(changes)),
        {"cas_id": activity.id, "cas_version": activity.version, **params},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _mirror(activity, changes)
    return True


def _mirror(activity: Activity, changes: dict[str, Any]) -> None:
    """Mirror a written UPDATE on the object as already persisted: a plain setattr would make the
    ORM flush a second, unchecked UPDATE of the same row."""
    for key, value in changes.items():
        set_committed_value(activity, key, value)


def _event_values(
    activity: Activity, transition: Transition, actor: Actor, detail: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": activity.tenant_id,
        "activity_id": activity.id,
        "from_status": transition.from_status.value if transition.from_status else None,
        "to_status": transition.to_status.value,
        "event": transition.event.value,
        "actor_type": actor.type.value,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "detail": detail,
        "created_at": at,
    }


def _event(
    activity: Activity, transition: Transition, actor: Actor, detail: str | None, at: datetime
) -> ActivityStatusEvent:
    return ActivityStatusEvent(**_event_values(activity, transition, actor, detail, at))


async def get_task(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity | None:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.select(Activity).where(
        Activity.id == activity_id, Activity.type == ActivityType.TASK.value
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def commerce_of(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID
) -> uuid.UUID | None:
    repo = TenantRepository(session, tenant_id)
    stmt = repo.where(CommerceAssignment, select(CommerceAssignment.commerce_id)).where(
        CommerceAssignment.activity_id == activity_id
    )
    found: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


def input_of(body: ActivityCreate) -> ActivityInput:
    """The service input of a validated ActivityCreate body."""
    return ActivityInput(
        type=body.type,
        channel=body.channel,
        reason=body.reason,
        commerce_id=body.commerce_id,
        idempotency_key=body.idempotency_key,
        scheduled_at=body.scheduled_at,
        suggested_execution_time=body.suggested_execution_time,
        user_status=body.user_status,
        score=body.score,
        assignment_reason=body.assignment_reason,
        assigned_route_id=body.assigned_route_id,
        assigned_operator_id=body.assigned_operator_id,
    )


def resolution_of(body: ActivityCreate) -> ResolutionRequest:
    return ResolutionRequest(
        target_criteria=body.target_criteria,
        attribute_keys=list(body.attribute_keys or []),
        attributes=list(body.attributes or []),
    )


NO_RESOLUTION = ResolutionRequest(target_criteria=None, attribute_keys=[], attributes=[])


async def create_activity(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: ActivityInput,
    actor: Actor,
    request: ResolutionRequest = NO_RESOLUTION,
) -> Activity:
    """Create an activity with its commerce assignment, task details, create-time resolution
    and first status event, in one transaction (management-api.md §11.3, in its check order).

    409 (with the existing id) when the idempotency key was used before in the tenant.
    """
    repo = TenantRepository(session, tenant_id)
    check_shape(data)
    await resolution.check_request(session, tenant_id, request)
    await _check_duplicate(session, repo, data.idempotency_key)
    commerce = (await References.load(repo, [data])).check(data)

    now = utcnow()
    activity = add_new(repo, data, commerce.id, now)
    try:
        await session.flush()
        failure = await resolution.resolve_on_creation(session, activity, commerce.id, request)
        _start(session, activity, failure, actor, now)
        await session.commit()
    except IntegrityError:
        # A concurrent create with the same idempotency key won the race.
        await session.rollback()
        await _check_duplicate(session, repo, data.idempotency_key)
        raise
    return activity


def add_new(
    repo: TenantRepository, data: ActivityInput, commerce_id: uuid.UUID, now: datetime
) -> Activity:
    """Add a new activity with its commerce assignment and (TASK) task details; no status yet."""
    activity = repo.add(_new_activity(data, now))
    repo.add(
        CommerceAssignment(
            activity_id=activity.id,
            commerce_id=commerce_id,
            assignment_reason=data.assignment_reason,
        )
    )
    if data.type == ActivityType.TASK:
        assert data.assigned_route_id and data.assigned_operator_id
        repo.add(
            TaskDetails(
                activity_id=activity.id,
                route_id=data.assigned_route_id,
                operator_id=data.assigned_operator_id,
            )
        )
    return activity


def _new_activity(data: ActivityInput, now: datetime) -> Activity:
    return Activity(
        id=uuid.uuid4(),
        type=data.type.value,
        channel=data.channel.value,
        reason=data.reason,
        user_status=data.user_status,
        score=data.score,
        scheduled_at=data.scheduled_at,
        suggested_execution_time=data.suggested_execution_time,
        idempotency_key=data.idempotency_key,
        # Inserted as READY; `_start` settles the first status once resolution has run.
        status=ActivityStatus.READY.value,
        lifecycle_status=LifecycleStatus.SCHEDULED.value,
        phase=Phase.OPEN.value,
        lifecycle_detail=None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _start(
    session: AsyncSession, activity: Activity, failure: str | None, actor: Actor, now: datetime
) -> None:
    """Give a new activity its first status (READY, or UNRESOLVED with the reason) and event."""
    transition = decide(
        ActivityState(None), Trigger.CREATE if failure is None else Trigger.CREATE_RESOLUTION_FAILED
    )
    start = {
        "status": transition.to_status.value,
        "lifecycle_status": transition.lifecycle_status.value,
        "phase": transition.phase.value,
        "lifecycle_detail": failure,
    }
    # The row is already inserted (resolution records reference it): assign only what differs,
    # so the common READY case costs no second UPDATE of the row.
    for key, value in start.items():
        if getattr(activity, key) != value:
            setattr(activity, key, value)
    session.add(_event(activity, transition, actor, failure, now))
    mark_changed(session.sync_session, activity.tenant_id)
    if transition.to_status == ActivityStatus.READY:
        signal.mark(session.sync_session)


async def _check_duplicate(session: AsyncSession, repo: TenantRepository, key: str) -> None:
    existing = (
        await session.execute(
            repo.where(Activity, select(Activity.id)).where(Activity.idempotency_key == key)
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("idempotency_key already exists", extra={"activityId": str(existing)})


def check_shape(data: ActivityInput, prefix: str = "") -> None:
    """Route and operator: both required for a TASK, both absent for a MESSAGE (400)."""
    pairs = (
        ("assigned_route_id", data.assigned_route_id),
        ("assigned_operator_id", data.assigned_operator_id),
    )
    if data.type == ActivityType.TASK:
        missing = [name for name, value in pairs if value is None]
        if missing:
            raise ValidationFailed(
                [
                    {"field": prefix + n, "message": "is required for TASK activities"}
                    for n in missing
                ]
            )
    else:
        present = [name for name, value in pairs if value is not None]
        if present:
            raise ValidationFailed(
                [
                    {"field": prefix + n, "message": "must be absent for MESSAGE activities"}
                    for n in present
                ]
            )


@dataclass
class References:
    """The records a set of activity inputs refers to, loaded with one query per kind."""

    commerces: dict[uuid.UUID, Commerce]
    routes: dict[uuid.UUID, Route]
    operators: dict[uuid.UUID, Operator]
    links: set[tuple[uuid.UUID, uuid.UUID]]  # active (route, operator) links

    @classmethod
    async def load(cls, repo: TenantRepository, items: list[ActivityInput]) -> References:
        session = repo.session
        commerce_ids = {i.commerce_id for i in items}
        route_ids = {i.assigned_route_id for i in items if i.assigned_route_id}
        operator_ids = {i.assigned_operator_id for i in items if i.assigned_operator_id}
        commerces = {
            c.id: c
            for c in (
                await session.execute(repo.select(Commerce).where(Commerce.id.in_(commerce_ids)))
            ).scalars()
        }
        routes: dict[uuid.UUID, Route] = {}
        operators: dict[uuid.UUID, Operator] = {}
        links: set[tuple[uuid.UUID, uuid.UUID]] = set()
        if route_ids:
            routes = {
                r.id: r
                for r in (
                    await session.execute(repo.select(Route).where(Route.id.in_(route_ids)))
                ).scalars()
            }
            operators = {
                o.id: o
                for o in (
                    await session.execute(
                        repo.select(Operator).where(Operator.id.in_(operator_ids))
                    )
                ).scalars()
            }
            rows = await session.execute(
                repo.where(
                    RouteOperator, select(RouteOperator.route_id, RouteOperator.operator_id)
                ).where(
                    RouteOperator.route_id.in_(route_ids),
                    RouteOperator.operator_id.in_(operator_ids),
                    RouteOperator.is_active.is_(True),
                )
            )
            links = {(r, o) for r, o in rows.all()}
        return cls(commerces, routes, operators, links)

    def check(self, data: ActivityInput) -> Commerce:
        """The commerce, or the 404/400 of management-api.md §11.3 steps 3 and 4."""
        commerce = self.commerces.get(data.commerce_id)
        if commerce is None:
            raise NotFound("Commerce not found")
        if not commerce.is_active:
            raise BadRequest("Commerce is inactive")
        if data.type != ActivityType.TASK:
            return commerce
        assert data.assigned_route_id and data.assigned_operator_id
        route = self.routes.get(data.assigned_route_id)
        if route is None:
            raise NotFound("Route not found")
        operator = self.operators.get(data.assigned_operator_id)
        if operator is None:
            raise NotFound("Operator not found")
        if not route.is_active:
            raise BadRequest("Route is inactive")
        if not operator.is_active:
            raise BadRequest("Operator is inactive")
        if (route.id, operator.id) not in self.links:
            raise BadRequest("Operator is not assigned to the route")
        return commerce


async def cancel_activity(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID,
    actor: Actor,
    reason: str | None = None,
) -> Activity:
    """Cancel an activity (READY, UNRESOLVED or DISPATCHED); 400 from any other status."""
    for _ in range(TRANSITION_ROUNDS):
        activity = await TenantRepository(session, tenant_id).get(Activity, activity_id)
        if activity is None:
            raise NotFound("Activity not found")
        transition = decide(state_of(activity), Trigger.CANCEL)
        if await apply_transition(
            session, activity, transition, actor, event_detail=reason, lifecycle_detail=reason
        ):
            await session.commit()
            return activity
        await session.rollback()
    raise Conflict("The activity is being updated concurrently; retry the request")


@dataclass(frozen=True)
class ActivityFilters:
    statuses: tuple[str, ...] = ()
    type: str | None = None
    channel: str | None = None
    commerce_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    route_id: uuid.UUID | None = None
    idempotency_key: str | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None
    search: str | None = None


async def list_activities(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    f: ActivityFilters,
    sort: str | None,
    page: PageParams,
) -> tuple[list[Any], int, bool]:
    stmt = activity_rows(TenantRepository(session, tenant_id))
    clauses: list[Any] = []
    if f.statuses:
        clauses.append(Activity.status.in_(f.statuses))
    if f.type is not None:
        clauses.append(Activity.type == f.type)
    if f.channel is not None:
        clauses.append(Activity.channel == f.channel)
    if f.commerce_id is not None:
        clauses.append(CommerceAssignment.commerce_id == f.commerce_id)
    if f.operator_id is not None:
        clauses.append(TaskDetails.operator_id == f.operator_id)
    if f.route_id is not None:
        clauses.append(TaskDetails.route_id == f.route_id)
    if f.idempotency_key is not None:
        clauses.append(Activity.idempotency_key == f.idempotency_key)
    if f.scheduled_from is not None:
        clauses.append(Activity.scheduled_at >= f.scheduled_from)
    if f.scheduled_to is not None:
        clauses.append(Activity.scheduled_at <= f.scheduled_to)
    if f.search is not None:
        clauses.append(
            search_clause(f.search, [Commerce.name, Commerce.external_id, Activity.reason])
        )
    if clauses:
        stmt = stmt.where(*clauses)
    order = parse_sort(
        sort,
        {"scheduled_at": Activity.scheduled_at, "created_at": Activity.created_at},
        "-created_at",
        Activity.id,
    )
    key = ("activities", f)
    return await paginate(session, stmt, order, page, scalars=False, total_key=(tenant_id, key))


async def lifecycle_counts(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """How many of the tenant's activities scheduled in [start, end) are in each lifecycle status.

    Every status is present (0 when none), in the lifecycle's order, so a dashboard row never
    changes shape.
    """
    repo = TenantRepository(session, tenant_id)
    stmt = (
        repo.where(Activity, select(Activity.lifecycle_status, func.count()))
        .where(Activity.scheduled_at >= start, Activity.scheduled_at < end)
        .group_by(Activity.lifecycle_status)
    )
    found = {status: int(n) for status, n in (await session.execute(stmt)).all()}
    return {s.value: found.get(s.value, 0) for s in LifecycleStatus}


@dataclass(frozen=True)
class AllowedActions:
    """Which status actions an activity's state allows (the same rules the endpoints apply)."""

    cancel: bool
    retry_dispatch: bool
    resend: bool
    retry_resolution: bool


def allowed_actions(detail: dict[str, Any]) -> AllowedActions:
    """The actions of an ActivityDetail that its status allows, before permissions.

    Pages show a button only when this says so; the action's service refuses it anyway.
    """
    status = detail["status"]
    return AllowedActions(
        cancel=status
        in (ActivityStatus.READY, ActivityStatus.UNRESOLVED, ActivityStatus.DISPATCHED),
        retry_dispatch=bool(detail["dispatch"]["canForceRetryDispatch"]),
        resend=status == ActivityStatus.DISPATCHED,
        retry_resolution=status == ActivityStatus.UNRESOLVED,
    )
