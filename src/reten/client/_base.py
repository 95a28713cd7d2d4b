"""What the sync and async clients share: options, retry policy, error mapping, logging."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict

import httpx

from reten.client._calls import Call
from reten.client._errors import (
    ConnectionError,
    RetenError,
    TimeoutError,
    error_for,
    parse_retry_after,
)

log = logging.getLogger("reten.client")

USER_AGENT = "reten-python/0.1.0"
RETRYABLE_STATUSES = frozenset({408, 429})
IN_PROGRESS = "is in progress"


@dataclass(frozen=True)
class Options:
    base_url: str
    api_key: str
    timeout: httpx.Timeout
    max_retries: int
    # Longest Retry-After honoured: a server asking for more gets retried after this long.
    max_retry_after: float
    initial_retry_delay: float
    max_retry_delay: float


class ClientOptions(TypedDict, total=False):
    """What `Reten(...)`, `AsyncReten(...)` and `with_options(...)` accept besides the URL and key."""

    timeout: float | httpx.Timeout  # default 30 s
    max_retries: int  # default 2
    max_retry_after: float  # default 60 s
    initial_retry_delay: float  # default 0.5 s
    max_retry_delay: float  # default 8 s


def make_options(base_url: str | None, api_key: str | None, options: ClientOptions) -> Options:
    timeout = options.get("timeout", 30.0)
    max_retries = options.get("max_retries", 2)
    base_url = base_url or os.environ.get("RETEN_BASE_URL")
    api_key = api_key or os.environ.get("RETEN_API_KEY")
    if not base_url:
        raise RetenError("no base URL: pass base_url= or set RETEN_BASE_URL")
    if not api_key:
        raise RetenError("no API key: pass api_key= or set RETEN_API_KEY")
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    return Options(
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        max_retries=max_retries,
        max_retry_after=options.get("max_retry_after", 60.0),
        initial_retry_delay=options.get("initial_retry_delay", 0.5),
        max_retry_delay=options.get("max_retry_delay", 8.0),
    )


class BaseClient:
    _options: Options

    @property
    def base_url(self) -> str:
        return self._options.base_url

    @property
    def timeout(self) -> httpx.Timeout:
        return self._options.timeout

    @property
    def max_retries(self) -> int:
        return self._options.max_retries

    def _changed(self, changes: ClientOptions) -> Options:
        values: dict[str, Any] = dict(changes)
        if "timeout" in values and not isinstance(values["timeout"], httpx.Timeout):
            values["timeout"] = httpx.Timeout(values["timeout"])
        return replace(self._options, **values)

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {
            "x-api-key": self._options.api_key,
            "user-agent": USER_AGENT,
            "accept": "application/json",
            **call.headers,
        }
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        return headers

    def _request_args(self, call: Call) -> dict[str, Any]:
        return {
            "method": call.method,
            "url": self._options.base_url + call.path,
            "params": dict(call.params) if call.params else None,
            "json": call.body,
            "headers": self._headers(call),
            "timeout": self._options.timeout,
        }

    def _may_retry(self, call: Call, error: Exception | None) -> bool:
        if call.method != "POST" or call.idempotency_key or call.repeatable:
            return True
        # A connection that was never made carried nothing: even a bare POST may go again.
        return isinstance(error, httpx.ConnectError)

    def _retry_delay(
        self, call: Call, attempt: int, response: httpx.Response | None, error: Exception | None
    ) -> float | None:
        """Seconds to wait before retrying, or None when this outcome is final."""
        if attempt >= self._options.max_retries or not self._may_retry(call, error):
            return None
        if response is not None:
            status = response.status_code
            in_progress = (
                status == 409 and call.idempotency_key is not None and IN_PROGRESS in response.text
            )
            if not (status in RETRYABLE_STATUSES or status >= 500 or in_progress):
                return None
            after = parse_retry_after(response.headers.get("retry-after"))
            if after is not None:
                return min(after, self._options.max_retry_after)
        # Exponential backoff with jitter, so that clients failed together do not return together.
        base: float = min(
            self._options.initial_retry_delay * 2.0**attempt, self._options.max_retry_delay
        )
        return base * (1 - 0.25 * random.random())

    def _log_attempt(
        self,
        call: Call,
        attempt: int,
        started: float,
        now: float,
        response: httpx.Response | None,
        error: Exception | None,
    ) -> None:
        # The path only: the API key travels in a header and is never part of what is logged.
        outcome = str(response.status_code) if response is not None else type(error).__name__
        log.debug(
            "%s %s -> %s in %.0f ms (retry %d)",
            call.method,
            call.path,
            outcome,
            (now - started) * 1000,
            attempt,
        )

    def _log_retry(
        self,
        call: Call,
        attempt: int,
        delay: float,
        response: httpx.Response | None,
        error: Exception | None,
    ) -> None:
        what = str(response.status_code) if response is not None else type(error).__name__
        log.info(
            "%s %s failed (%s); retry %d of %d in %.2f s",
            call.method,
            call.path,
            what,
            attempt + 1,
            self._options.max_retries,
            delay,
        )

    def _outcome(self, response: httpx.Response, attempt: int) -> httpx.Response:
        if response.status_code >= 400:
            error = error_for(response)
            error.retried = attempt > 0
            raise error
        return response


def transport_error(call: Call, error: httpx.TransportError) -> ConnectionError:
    if isinstance(error, httpx.TimeoutException):
        return TimeoutError(f"{call.method} {call.path} timed out")
    return ConnectionError(f"{call.method} {call.path}: {type(error).__name__}: {error}")


def server_time(response: httpx.Response) -> datetime:
    """The server's clock (its `Date` header), so watermarks do not depend on ours."""
    value = response.headers.get("date")
    if value:
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def watermark(server_now: datetime, since: datetime | None, overlap: float) -> datetime:
    """The next `since`: a little before the server's time at the start of this pass, so a task
    written by a transaction that was still open then is read again rather than missed."""
    mark = server_now - timedelta(seconds=overlap)
    return max(mark, since) if since is not None else mark


def as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
