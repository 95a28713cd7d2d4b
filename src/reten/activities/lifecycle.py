"""The activity state machine (domain-model.md, management-api.md §11.1). Pure: no I/O.

Every status change of an activity is decided here, and so is the derived lifecycle status that
the integration view shows. The service layer stores what `decide` returns (new status, event
name, derived columns) and applies it as a compare-and-set on the status it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reten.kit.errors import InvalidTransition


class ActivityStatus(StrEnum):
    READY = "READY"
    UNRESOLVED = "UNRESOLVED"
    DISPATCHED = "DISPATCHED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


class ResultStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    NOT_EXECUTED = "NOT_EXECUTED"
    CANCELED = "CANCELED"
    TRANSFERRED = "TRANSFERRED"


class StatusEvent(StrEnum):
    CREATED = "CREATED"
    RESOLUTION_FAILED = "RESOLUTION_FAILED"
    RESOLUTION_RETRY_SUCCESS = "RESOLUTION_RETRY_SUCCESS"
    RESOLUTION_RETRY_FAILED = "RESOLUTION_RETRY_FAILED"
    DISPATCHED = "DISPATCHED"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    DISPATCH_RETRY_REQUESTED = "DISPATCH_RETRY_REQUESTED"
    CANCELED = "CANCELED"
    RESULT_RECEIVED = "RESULT_RECEIVED"
    RESULT_PENDING = "RESULT_PENDING"
    RESULT_OVERRIDDEN = "RESULT_OVERRIDDEN"


class LifecycleStatus(StrEnum):
    """What happened to the activity, combining its status and its current result."""

    SCHEDULED = "SCHEDULED"
    UNRESOLVED = "UNRESOLVED"
    DISPATCHED = "DISPATCHED"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    IN_PROGRESS = "IN_PROGRESS"
    EFFECTIVE = "EFFECTIVE"
    NOT_EFFECTIVE = "NOT_EFFECTIVE"
    CANCELED = "CANCELED"


class Phase(StrEnum):
    """Coarse grouping of lifecycle statuses, stored so list filters on it are one index range."""

    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELED = "CANCELED"


PHASE_OF: dict[LifecycleStatus, Phase] = {
    LifecycleStatus.SCHEDULED: Phase.OPEN,
    LifecycleStatus.UNRESOLVED: Phase.OPEN,
    LifecycleStatus.DISPATCHED: Phase.OPEN,
    LifecycleStatus.DISPATCH_FAILED: Phase.OPEN,
    LifecycleStatus.IN_PROGRESS: Phase.IN_PROGRESS,
    LifecycleStatus.EFFECTIVE: Phase.DONE,
    LifecycleStatus.NOT_EFFECTIVE: Phase.DONE,
    LifecycleStatus.CANCELED: Phase.CANCELED,
}

# What an activity's status becomes when a final result of each status is applied.
STATUS_FROM_RESULT: dict[ResultStatus, ActivityStatus] = {
    ResultStatus.COMPLETED: ActivityStatus.COMPLETED,
    ResultStatus.TRANSFERRED: ActivityStatus.COMPLETED,
    ResultStatus.NOT_EXECUTED: ActivityStatus.FAILED,
    ResultStatus.CANCELED: ActivityStatus.CANCELED,
}


class Trigger(StrEnum):
    CREATE = "CREATE"
    CREATE_RESOLUTION_FAILED = "CREATE_RESOLUTION_FAILED"
    DISPATCH_RESOLUTION_FAILED = "DISPATCH_RESOLUTION_FAILED"
    RETRY_RESOLUTION_SUCCEEDED = "RETRY_RESOLUTION_SUCCEEDED"
    RETRY_RESOLUTION_FAILED = "RETRY_RESOLUTION_FAILED"
    DISPATCH_ACCEPTED = "DISPATCH_ACCEPTED"
    DISPATCH_EXHAUSTED = "DISPATCH_EXHAUSTED"
    RETRY_DISPATCH = "RETRY_DISPATCH"
    CANCEL = "CANCEL"
    RESULT = "RESULT"


# The wording of the refused-move message: "Activity in status X cannot <action>".
ACTION_WORDS: dict[Trigger, str] = {
    Trigger.CREATE: "be created",
    Trigger.CREATE_RESOLUTION_FAILED: "be created",
    Trigger.DISPATCH_RESOLUTION_FAILED: "fail resolution before dispatch",
    Trigger.RETRY_RESOLUTION_SUCCEEDED: "retry resolution",
    Trigger.RETRY_RESOLUTION_FAILED: "retry resolution",
    Trigger.DISPATCH_ACCEPTED: "be dispatched",
    Trigger.DISPATCH_EXHAUSTED: "fail dispatch",
    Trigger.RETRY_DISPATCH: "retry dispatch",
    Trigger.CANCEL: "be canceled",
    Trigger.RESULT: "receive a result",
}


@dataclass(frozen=True)
class ActivityState:
    """What the machine needs to know about an activity. `status` None means not created yet."""

    status: ActivityStatus | None
    has_final_result: bool = False
    latest_result_pending: bool = False
    has_any_result: bool = False

    @property
    def failed_by_dispatch(self) -> bool:
        # FAILED without a final result can only come from dispatch running out of attempts.
        return self.status == ActivityStatus.FAILED and not self.has_final_result

    @property
    def is_terminal(self) -> bool:
        if self.status in (ActivityStatus.COMPLETED, ActivityStatus.CANCELED):
            return True
        return self.status == ActivityStatus.FAILED and self.has_final_result


@dataclass(frozen=True)
class Transition:
    from_status: ActivityStatus | None
    to_status: ActivityStatus
    event: StatusEvent
    state: ActivityState  # the state after the move
    lifecycle_status: LifecycleStatus
    phase: Phase
    # True when an existing final result must be marked superseded by the new one.
    supersedes: bool = False


class ResultConflict(Exception):
    """The activity already has a final result (or was canceled) and no override was asked."""


def derive_lifecycle(state: ActivityState) -> LifecycleStatus:
    status = state.status
    if status == ActivityStatus.CANCELED:
        return LifecycleStatus.CANCELED
    if status == ActivityStatus.COMPLETED:
        return LifecycleStatus.EFFECTIVE
    if status == ActivityStatus.FAILED and state.has_final_result:
        return LifecycleStatus.NOT_EFFECTIVE
    if state.latest_result_pending:
        return LifecycleStatus.IN_PROGRESS
    if status == ActivityStatus.READY:
        return LifecycleStatus.SCHEDULED
    if status == ActivityStatus.UNRESOLVED:
        return LifecycleStatus.UNRESOLVED
    if status == ActivityStatus.DISPATCHED:
        return LifecycleStatus.DISPATCHED
    if status == ActivityStatus.FAILED:
        return LifecycleStatus.DISPATCH_FAILED
    raise ValueError(f"no lifecycle status for {state!r}")


def _refuse(state: ActivityState, trigger: Trigger) -> InvalidTransition:
    current = state.status.value if state.status else "(new)"
    return InvalidTransition(f"Activity in status {current} cannot {ACTION_WORDS[trigger]}")


def _move(
    before: ActivityState, after: ActivityState, event: StatusEvent, *, supersedes: bool = False
) -> Transition:
    assert after.status is not None
    lifecycle = derive_lifecycle(after)
    return Transition(
        from_status=before.status,
        to_status=after.status,
        event=event,
        state=after,
        lifecycle_status=lifecycle,
        phase=PHASE_OF[lifecycle],
        supersedes=supersedes,
    )


def _with_status(state: ActivityState, status: ActivityStatus) -> ActivityState:
    return ActivityState(
        status=status,
        has_final_result=state.has_final_result,
        latest_result_pending=state.latest_result_pending,
        has_any_result=state.has_any_result,
    )


def decide(
    state: ActivityState,
    trigger: Trigger,
    *,
    result_status: ResultStatus | None = None,
    hard_override: bool = False,
) -> Transition:
    """Return the move `trigger` makes from `state`, or raise.

    Raises InvalidTransition (a 400 at the API) for a move the table does not allow, and
    ResultConflict (a 409) for a result on an activity that already has a final one.
    """
    s = state.status
    A = ActivityStatus
    if trigger in (Trigger.CREATE, Trigger.CREATE_RESOLUTION_FAILED):
        if s is not None:
            raise _refuse(state, trigger)
        if trigger == Trigger.CREATE:
            return _move(state, ActivityState(A.READY), StatusEvent.CREATED)
        return _move(state, ActivityState(A.UNRESOLVED), StatusEvent.RESOLUTION_FAILED)

    if s is None:
        raise _refuse(state, trigger)

    if trigger == Trigger.RESULT:
        if result_status is None:
            raise ValueError("a RESULT trigger needs result_status")
        return _decide_result(state, result_status, hard_override)

    allowed: dict[Trigger, tuple[set[ActivityStatus], ActivityStatus, StatusEvent]] = {
        Trigger.DISPATCH_RESOLUTION_FAILED: ({A.READY}, A.UNRESOLVED, StatusEvent.RESOLUTION_FAILED),
        Trigger.RETRY_RESOLUTION_SUCCEEDED: (
            {A.UNRESOLVED}, A.READY, StatusEvent.RESOLUTION_RETRY_SUCCESS
        ),
        Trigger.RETRY_RESOLUTION_FAILED: (
            {A.UNRESOLVED}, A.UNRESOLVED, StatusEvent.RESOLUTION_RETRY_FAILED
        ),
        Trigger.DISPATCH_ACCEPTED: ({A.READY}, A.DISPATCHED, StatusEvent.DISPATCHED),
        Trigger.DISPATCH_EXHAUSTED: ({A.READY}, A.FAILED, StatusEvent.DISPATCH_FAILED),
        Trigger.RETRY_DISPATCH: ({A.FAILED}, A.READY, StatusEvent.DISPATCH_RETRY_REQUESTED),
        Trigger.CANCEL: ({A.READY, A.UNRESOLVED, A.DISPATCHED}, A.CANCELED, StatusEvent.CANCELED),
    }  # fmt: skip
    sources, target, event = allowed[trigger]
    if s not in sources:
        raise _refuse(state, trigger)
    if trigger == Trigger.RETRY_DISPATCH and (state.has_any_result or not state.failed_by_dispatch):
        # Only a dispatch failure with no result at all may be retried (management-api.md 11.13).
        raise _refuse(state, trigger)
    return _move(state, _with_status(state, target), event)


def _decide_result(
    state: ActivityState, result_status: ResultStatus, hard_override: bool
) -> Transition:
    A = ActivityStatus
    s = state.status
    assert s is not None
    if result_status == ResultStatus.PENDING:
        # A progress report never overrides anything: on a finished activity it is refused.
        if state.is_terminal:
            raise ResultConflict()
        after = ActivityState(
            status=s, has_final_result=False, latest_result_pending=True, has_any_result=True
        )
        return _move(state, after, StatusEvent.RESULT_PENDING)

    target = STATUS_FROM_RESULT[result_status]
    after = ActivityState(
        status=target, has_final_result=True, latest_result_pending=False, has_any_result=True
    )
    blocked = state.has_final_result or s == A.CANCELED
    if blocked:
        if not hard_override:
            raise ResultConflict()
        return _move(state, after, StatusEvent.RESULT_OVERRIDDEN, supersedes=state.has_final_result)
    if s in (A.READY, A.UNRESOLVED, A.DISPATCHED) or state.failed_by_dispatch:
        return _move(state, after, StatusEvent.RESULT_RECEIVED)
    raise _refuse(state, Trigger.RESULT)  # unreachable with a consistent state; kept as a guard
