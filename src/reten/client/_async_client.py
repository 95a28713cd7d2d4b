"""`AsyncReten`: the same API as `Reten`, awaited (and `async for` over task pages)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
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
from reten.client._client import (
    _activity_create_call,
    _json,
)
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


class AsyncReten(BaseClient):
    """Asynchronous client. `AsyncReten()` reads RETEN_BASE_URL and RETEN_API_KEY."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._options = make_options(base_url, api_key, options)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._bind()

    def _bind(self) -> None:
        self.tasks = AsyncTasks(self)
        self.results = AsyncResults(self)
        self.commerces = AsyncCommerces(self)
        self.operators = AsyncOperators(self)
        self.routes = AsyncRoutes(self)
        self.activities = AsyncActivities(self)

    def with_options(self, **changes: Unpack[ClientOptions]) -> AsyncReten:
        """A copy with other `timeout`, `max_retries`, ... sharing this client's connections."""
        copy = object.__new__(AsyncReten)
        copy._options = self._changed(changes)
        copy._owns_http = False
        copy._http = self._http
        copy._bind()
        return copy

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.close()

    async def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            started = time.monotonic()
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = await self._http.request(**self._request_args(call))
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
                await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any endpoint, with this client's key, retries and errors; the parsed JSON answer."""
        return _json(await self._send(Call(method.upper(), path, params, json, idempotency_key)))

    async def result_types(self) -> list[ResultType]:
        """The tenant's active result types; also the way to check that a key works."""
        body = _json(await self._send(Call("GET", calls.RESULT_TYPES_PATH)))
        return [ResultType.model_validate(item) for item in body]


class AsyncTaskPage:
    """One page of tasks (`data`, `meta`); `async for` over it walks every task of every page."""

    def __init__(self, client: AsyncReten, query: dict[str, str], body: dict[str, Any]) -> None:
        self._client = client
        self._query = query
        self._body = body
        self.data = [Task.model_validate(item) for item in body["data"]]
        self.meta = PageMeta.model_validate(body["meta"])

    async def __aiter__(self) -> AsyncIterator[Task]:
        walk = TaskWalk(self._query)
        walk.start(self._body)
        for task in self.data:
            yield task
        while (call := walk.next_call()) is not None:
            for task in walk.take(_json(await self._client._send(call))):
                yield task


class AsyncTasks:
    def __init__(self, client: AsyncReten) -> None:
        self._client = client

    async def list(self, **params: Unpack[ListParams]) -> AsyncTaskPage:
        query = calls.task_query(params)
        body = _json(await self._client._send(Call("GET", calls.TASKS_PATH, query)))
        return AsyncTaskPage(self._client, query, body)

    async def changes(
        self,
        since: datetime | str | None = None,
        *,
        overlap: float = 5.0,
        **filters: Unpack[TaskFilters],
    ) -> TaskChanges:
        """Every task created or changed since `since` (all of them when None)."""
        changes = ChangesPass(since, overlap, filters)
        while (call := changes.next_call()) is not None:
            changes.take(await self._client._send(call))
        return changes.result()


class AsyncResults:
    def __init__(self, client: AsyncReten) -> None:
        self._client = client

    async def submit(self, **params: Unpack[SubmitParams]) -> SubmittedResult:
        """Submit a task's result; see `Reten.results.submit`."""
        response = await self._client._send(calls.submit_call(params))
        return SubmittedResult.model_validate(_json(response))


class _AsyncSync:
    path = ""

    def __init__(self, client: AsyncReten) -> None:
        self._client = client

    async def sync(self, items: Sequence[Mapping[str, Any]]) -> SyncResult:
        """Create or update up to 1000 records by their match key, all or nothing."""
        response = await self._client._send(calls.sync_call(self.path, items))
        return SyncResult.model_validate(_json(response))


class AsyncCommerces(_AsyncSync):
    path = "/api/commerces/sync"


class AsyncOperators(_AsyncSync):
    path = "/api/operators/sync"


class AsyncRoutes(_AsyncSync):
    path = "/api/routes/sync"


class AsyncActivities:
    def __init__(self, client: AsyncReten) -> None:
        self._client = client

    async def create(self, **fields: Any) -> Activity:
        """Create one activity; see `Reten.activities.create`."""
        try:
            response = await self._client._send(_activity_create_call(fields, "/api/activities"))
        except ConflictError as exc:
            if exc.activity_id is None or not exc.retried:
                raise
            return await self.get(exc.activity_id)
        return Activity.model_validate(_json(response))

    async def create_batch(self, items: Sequence[Mapping[str, Any]]) -> BatchResult:
        response = await self._client._send(calls.sync_call("/api/activities/batch", items))
        return BatchResult.model_validate(_json(response))

    async def get(self, activity_id: str) -> Activity:
        response = await self._client._send(Call("GET", f"/api/activities/{activity_id}"))
        return Activity.model_validate(_json(response))
