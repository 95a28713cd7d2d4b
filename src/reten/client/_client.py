"""`Reten` and `AsyncReten`: one reused httpx client each, retries, typed answers."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, Unpack

import httpx

from reten.client import _calls as calls
from reten.client._base import (
    BaseClient,
    ClientOptions,
    make_options,
    transport_error,
)
from reten.client._calls import Call, ListParams, SubmitParams, TaskFilters
from reten.client._errors import ConflictError
from reten.client._paging import ChangesPass, TaskChanges, TaskWalk
from reten.client.models import (
    Activity,
    BatchResult,
    PageMeta,
    ResultType,
    SubmittedResult,
    SyncResult,
    Task,
)


def _json(response: httpx.Response) -> Any:
    return None if response.status_code == 204 or not response.content else response.json()


def _activity_create_call(fields: Mapping[str, Any], path: str) -> Call:
    return Call("POST", path, body=calls.jsonable(fields), repeatable=True)


# --------------------------------------------------------------------------------------- sync


class Reten(BaseClient):
    """Synchronous client. `Reten()` reads RETEN_BASE_URL and RETEN_API_KEY."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._options = make_options(base_url, api_key, options)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self._bind()

    def _bind(self) -> None:
        self.tasks = Tasks(self)
        self.results = Results(self)
        self.commerces = Commerces(self)
        self.operators = Operators(self)
        self.routes = Routes(self)
        self.activities = Activities(self)

    def with_options(self, **changes: Unpack[ClientOptions]) -> Reten:
        """A copy with other `timeout`, `max_retries`, ... sharing this client's connections."""
        copy = object.__new__(Reten)
        copy._options = self._changed(changes)
        copy._owns_http = False
        copy._http = self._http
        copy._bind()
        return copy

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            started = time.monotonic()
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = self._http.request(**self._request_args(call))
            except httpx.TransportError as exc:
                error = exc
            self._log_attempt(call, attempt, started, time.monotonic(), response, error)
            delay = self._retry_delay(call, attempt, response, error)
            if delay is None:
                if error is not None:
                    raise transport_error(call, error) from error
                assert response is not None
                return self._outcome(response, attempt)
            self._log_retry(call, attempt, delay, response, error)
            if response is not None:
                response.close()
            time.sleep(delay)
            attempt += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any endpoint, with this client's key, retries and errors; the parsed JSON answer."""
        return _json(self._send(Call(method.upper(), path, params, json, idempotency_key)))

    def result_types(self) -> list[ResultType]:
        """The tenant's active result types; also the way to check that a key works."""
        body = _json(self._send(Call("GET", calls.RESULT_TYPES_PATH)))
        return [ResultType.model_validate(item) for item in body]


class TaskPage:
    """One page of tasks (`data`, `meta`); iterating it walks every task of every page."""

    def __init__(self, client: Reten, query: dict[str, str], body: dict[str, Any]) -> None:
        self._client = client
        self._query = query
        self._body = body
        self.data = [Task.model_validate(item) for item in body["data"]]
        self.meta = PageMeta.model_validate(body["meta"])

    def __iter__(self) -> Iterator[Task]:
        walk = TaskWalk(self._query)
        walk.start(self._body)
        yield from self.data
        while (call := walk.next_call()) is not None:
            yield from walk.take(_json(self._client._send(call)))


class Tasks:
    def __init__(self, client: Reten) -> None:
        self._client = client

    def list(self, **params: Unpack[ListParams]) -> TaskPage:
        query = calls.task_query(params)
        body = _json(self._client._send(Call("GET", calls.TASKS_PATH, query)))
        return TaskPage(self._client, query, body)

    def changes(
        self,
        since: datetime | str | None = None,
        *,
        overlap: float = 5.0,
        **filters: Unpack[TaskFilters],
    ) -> TaskChanges:
        """Every task created or changed since `since` (all of them when None)."""
        changes = ChangesPass(since, overlap, filters)
        while (call := changes.next_call()) is not None:
            changes.take(self._client._send(call))
        return changes.result()


class Results:
    def __init__(self, client: Reten) -> None:
        self._client = client

    def submit(self, **params: Unpack[SubmitParams]) -> SubmittedResult:
        """Submit a task's result. An Idempotency-Key is generated unless given, and every
        retry of this call sends the same one, so a retry never stores a second result."""
        return SubmittedResult.model_validate(_json(self._client._send(calls.submit_call(params))))


class _Sync:
    path = ""

    def __init__(self, client: Reten) -> None:
        self._client = client

    def sync(self, items: Sequence[Mapping[str, Any]]) -> SyncResult:
        """Create or update up to 1000 records by their match key, all or nothing
        (commerces: `external_id`; operators: `type` + `external_id`; routes: `external_id`)."""
        return SyncResult.model_validate(
            _json(self._client._send(calls.sync_call(self.path, items)))
        )


class Commerces(_Sync):
    path = "/api/commerces/sync"


class Operators(_Sync):
    path = "/api/operators/sync"


class Routes(_Sync):
    path = "/api/routes/sync"


class Activities:
    def __init__(self, client: Reten) -> None:
        self._client = client

    def create(self, **fields: Any) -> Activity:
        """Create one activity (management-api.md §11.3). Its `idempotency_key` makes a retry
        safe: when a retry finds the activity already created, that activity is returned."""
        try:
            body = _json(self._client._send(_activity_create_call(fields, "/api/activities")))
        except ConflictError as exc:
            if exc.activity_id is None or not exc.retried:
                raise
            return self.get(exc.activity_id)
        return Activity.model_validate(body)

    def create_batch(self, items: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Create up to 1000 activities; each item is CREATED, DUPLICATE or ERROR."""
        return BatchResult.model_validate(
            _json(self._client._send(calls.sync_call("/api/activities/batch", items)))
        )

    def get(self, activity_id: str) -> Activity:
        return Activity.model_validate(
            _json(self._client._send(Call("GET", f"/api/activities/{activity_id}")))
        )
