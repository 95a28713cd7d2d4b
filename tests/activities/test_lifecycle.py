"""The activity state machine, exhaustively: every status × every trigger (domain-model.md)."""

from __future__ import annotations

import itertools

import pytest

from reten.activities.lifecycle import (
    ActivityState,
    Phase,
    ResultConflict,
    decide,
    derive_lifecycle,
)
from reten.activities.lifecycle import (
    ActivityStatus as S,
)
from reten.activities.lifecycle import (
    LifecycleStatus as L,
)
from reten.activities.lifecycle import (
    ResultStatus as R,
)
from reten.activities.lifecycle import (
    StatusEvent as E,
)
from reten.activities.lifecycle import (
    Trigger as T,
)
from reten.kit.errors import InvalidTransition

# Every consistent stored state: (status, has_final_result, latest_result_pending, has_any_result).
STATES: dict[str, ActivityState] = {
    "READY": ActivityState(S.READY),
    "READY+pending": ActivityState(S.READY, False, True, True),
    "UNRESOLVED": ActivityState(S.UNRESOLVED),
    "UNRESOLVED+pending": ActivityState(S.UNRESOLVED, False, True, True),
    "DISPATCHED": ActivityState(S.DISPATCHED),
    "DISPATCHED+pending": ActivityState(S.DISPATCHED, False, True, True),
    "FAILED(dispatch)": ActivityState(S.FAILED),
    "FAILED(dispatch)+pending": ActivityState(S.FAILED, False, True, True),
    "FAILED(result)": ActivityState(S.FAILED, True, False, True),
    "COMPLETED": ActivityState(S.COMPLETED, True, False, True),
    "CANCELED(admin)": ActivityState(S.CANCELED),
    "CANCELED(admin)+had-pending": ActivityState(S.CANCELED, False, False, True),
    "CANCELED(result)": ActivityState(S.CANCELED, True, False, True),
}

OPEN = {"READY", "READY+pending", "UNRESOLVED", "UNRESOLVED+pending", "DISPATCHED",
        "DISPATCHED+pending", "FAILED(dispatch)", "FAILED(dispatch)+pending"}  # fmt: skip
TERMINAL = set(STATES) - OPEN

# Non-result triggers: the states each is allowed from, and where it leads.
SIMPLE_MOVES: dict[T, tuple[set[str], S, E]] = {
    T.DISPATCH_RESOLUTION_FAILED: ({"READY", "READY+pending"}, S.UNRESOLVED, E.RESOLUTION_FAILED),
    T.RETRY_RESOLUTION_SUCCEEDED: (
        {"UNRESOLVED", "UNRESOLVED+pending"}, S.READY, E.RESOLUTION_RETRY_SUCCESS
    ),
    T.RETRY_RESOLUTION_FAILED: (
        {"UNRESOLVED", "UNRESOLVED+pending"}, S.UNRESOLVED, E.RESOLUTION_RETRY_FAILED
    ),
    T.DISPATCH_ACCEPTED: ({"READY", "READY+pending"}, S.DISPATCHED, E.DISPATCHED),
    T.DISPATCH_EXHAUSTED: ({"READY", "READY+pending"}, S.FAILED, E.DISPATCH_FAILED),
    # Only a dispatch failure with no result at all may be retried.
    T.RETRY_DISPATCH: ({"FAILED(dispatch)"}, S.READY, E.DISPATCH_RETRY_REQUESTED),
    T.CANCEL: (
        {"READY", "READY+pending", "UNRESOLVED", "UNRESOLVED+pending", "DISPATCHED",
         "DISPATCHED+pending"},
        S.CANCELED,
        E.CANCELED,
    ),
}  # fmt: skip

FINAL_TARGET = {R.COMPLETED: S.COMPLETED, R.TRANSFERRED: S.COMPLETED, R.NOT_EXECUTED: S.FAILED,
                R.CANCELED: S.CANCELED}  # fmt: skip


class TestCreation:
    def test_created_activity_is_ready(self) -> None:
        move = decide(ActivityState(None), T.CREATE)
        assert (move.from_status, move.to_status, move.event) == (None, S.READY, E.CREATED)
        assert move.lifecycle_status == L.SCHEDULED and move.phase == Phase.OPEN

    def test_failed_creation_resolution_is_unresolved(self) -> None:
        move = decide(ActivityState(None), T.CREATE_RESOLUTION_FAILED)
        assert (move.to_status, move.event) == (S.UNRESOLVED, E.RESOLUTION_FAILED)
        assert move.lifecycle_status == L.UNRESOLVED

    @pytest.mark.parametrize("name", sorted(STATES))
    @pytest.mark.parametrize("trigger", [T.CREATE, T.CREATE_RESOLUTION_FAILED])
    def test_an_existing_activity_cannot_be_created_again(self, name: str, trigger: T) -> None:
        with pytest.raises(InvalidTransition):
            decide(STATES[name], trigger)

    @pytest.mark.parametrize(
        "trigger", [t for t in T if t not in (T.CREATE, T.CREATE_RESOLUTION_FAILED)]
    )
    def test_nothing_but_creation_applies_to_a_new_activity(self, trigger: T) -> None:
        with pytest.raises(InvalidTransition):
            decide(ActivityState(None), trigger, result_status=R.COMPLETED)


class TestEveryStatusAndTrigger:
    @pytest.mark.parametrize(
        ("name", "trigger"), list(itertools.product(sorted(STATES), list(SIMPLE_MOVES)))
    )
    def test_non_result_trigger(self, name: str, trigger: T) -> None:
        sources, target, event = SIMPLE_MOVES[trigger]
        state = STATES[name]
        if name in sources:
            move = decide(state, trigger)
            assert move.from_status == state.status
            assert move.to_status == target
            assert move.event == event
            assert move.lifecycle_status == derive_lifecycle(move.state)
        else:
            with pytest.raises(InvalidTransition) as refused:
                decide(state, trigger)
            assert f"Activity in status {state.status.value} cannot" in refused.value.message

    @pytest.mark.parametrize(
        ("name", "result", "override"),
        list(itertools.product(sorted(STATES), list(R), [False, True])),
    )
    def test_result_trigger(self, name: str, result: R, override: bool) -> None:
        state = STATES[name]
        if result == R.PENDING:
            if name in TERMINAL:
                with pytest.raises(ResultConflict):
                    decide(state, T.RESULT, result_status=result, hard_override=override)
                return
            move = decide(state, T.RESULT, result_status=result, hard_override=override)
            assert move.to_status == state.status and move.event == E.RESULT_PENDING
            assert move.lifecycle_status == L.IN_PROGRESS and move.phase == Phase.IN_PROGRESS
            return
        blocked = state.has_final_result or state.status == S.CANCELED
        if blocked and not override:
            with pytest.raises(ResultConflict):
                decide(state, T.RESULT, result_status=result, hard_override=override)
            return
        move = decide(state, T.RESULT, result_status=result, hard_override=override)
        assert move.to_status == FINAL_TARGET[result]
        assert move.event == (E.RESULT_OVERRIDDEN if blocked else E.RESULT_RECEIVED)
        assert move.supersedes == (blocked and state.has_final_result)
        assert move.state.has_final_result and not move.state.latest_result_pending


class TestDerivedLifecycle:
    """integration-api.md: the vocabulary mapping table, row by row."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("READY", L.SCHEDULED),
            ("UNRESOLVED", L.UNRESOLVED),
            ("DISPATCHED", L.DISPATCHED),
            ("FAILED(dispatch)", L.DISPATCH_FAILED),
            ("READY+pending", L.IN_PROGRESS),
            ("UNRESOLVED+pending", L.IN_PROGRESS),
            ("DISPATCHED+pending", L.IN_PROGRESS),
            ("FAILED(dispatch)+pending", L.IN_PROGRESS),
            ("COMPLETED", L.EFFECTIVE),
            ("FAILED(result)", L.NOT_EFFECTIVE),
            ("CANCELED(admin)", L.CANCELED),
            ("CANCELED(admin)+had-pending", L.CANCELED),
            ("CANCELED(result)", L.CANCELED),
        ],
    )
    def test_lifecycle_status_of_each_state(self, name: str, expected: L) -> None:
        assert derive_lifecycle(STATES[name]) == expected

    def test_every_state_is_covered(self) -> None:
        assert {derive_lifecycle(s) for s in STATES.values()} == set(L)
