"""One delivery attempt over HTTP: no database here, so no transaction can be open around it.

What a response means (dispatch.md): 2xx is success; network errors, timeouts, 408, 425, 429 and
5xx are retried (`Retry-After` honoured, capped at an hour); 410 deactivates the config; other
4xx and 3xx (redirects are never followed) are final.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from reten import metrics
from reten.dispatch.models import DeliveryOutcome
from reten.dispatch.providers.base import DeliveryConfig, Provider, ProviderResponse
from reten.kit.netguard import RefusedAddress, check_url

MAX_RESPONSE_BYTES = 1024 * 1024  # read no more of an answer: a hostile endpoint cannot bloat us
EXCERPT_CHARS = 2048  # what the attempt log keeps of an answer
MAX_RETRY_AFTER_SECONDS = 3600
RETRYABLE_STATUSES = frozenset({408, 425, 429})
CONNECTIONS_PER_SHARD = 8


@dataclass(frozen=True)
class AttemptResult:
    outcome: DeliveryOutcome
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    request_id: str | None = None
    provider_activity_id: str | None = None
    retryable: bool = False
    retry_after_seconds: float | None = None
    gone: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == DeliveryOutcome.SUCCESS

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "httpStatus": self.http_status,
            "durationMs": self.duration_ms,
            "error": self.error,
            "responseExcerpt": self.response_excerpt,
            "requestId": self.request_id,
        }


def excerpt(body: bytes) -> str:
    # PostgreSQL text cannot hold NUL; the log is for humans, so decoding is lenient.
    return body[: EXCERPT_CHARS * 4].decode("utf-8", "replace").replace("\x00", "")[:EXCERPT_CHARS]


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    seconds: float | None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Sender:
    """Sends what providers build. One per process; owns the connection pool."""

    def __init__(self, *, allow_private_networks: bool, max_connections: int = 64) -> None:
        self.allow_private_networks = allow_private_networks
        # Several small connection pools rather than one large one: httpcore walks every
        # connection of a pool (a readability check on each idle socket) whenever it assigns
        # or releases one, so the cost per request grows with the pool. Requests go round the
        # shards in turn.
        shards = max(1, -(-max_connections // CONNECTIONS_PER_SHARD))
        per_shard = -(-max_connections // shards)
        self._clients = [
            httpx.AsyncClient(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard),
                headers={"user-agent": "Reten-Dispatch/1"},
            )
            for _ in range(shards)
        ]
        self._turn = itertools.cycle(self._clients)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def deliver(
        self,
        provider: Provider,
        payload: dict[str, Any],
        config: DeliveryConfig,
        *,
        message_id: str,
        timeout_seconds: float,
    ) -> AttemptResult:
        started = time.perf_counter()
        result = await self._attempt(
            provider, payload, config, message_id=message_id, timeout_seconds=timeout_seconds
        )
        metrics.record_delivery(
            provider.code,
            str(payload.get("channel")),
            result.outcome.value,
            time.perf_counter() - started,
        )
        return result

    async def _attempt(
        self,
        provider: Provider,
        payload: dict[str, Any],
        config: DeliveryConfig,
        *,
        message_id: str,
        timeout_seconds: float,
    ) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        request = provider.build_request(payload, config, message_id=message_id)
        if request is None:  # a provider without network (MOCK) succeeds at once
            return AttemptResult(
                outcome=DeliveryOutcome.SUCCESS,
                duration_ms=elapsed(),
                provider_activity_id=provider.parse_response(None),
            )
        failure = AttemptResult(DeliveryOutcome.FAILURE, 0, request_id=request.request_id)
        try:
            async with asyncio.timeout(timeout_seconds):
                target = await check_url(request.url, allow_private=self.allow_private_networks)
                headers = dict(request.headers)
                extensions: dict[str, Any] = {}
                if target.host_header:
                    headers["host"] = target.host_header
                if target.sni_hostname:
                    extensions["sni_hostname"] = target.sni_hostname
                client = next(self._turn)
                outgoing = client.build_request(
                    "POST",
                    target.url,
                    content=request.body,
                    headers=headers,
                    timeout=timeout_seconds,
                    extensions=extensions,
                )
                response = await client.send(outgoing, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_raw():
                        body += chunk
                        if len(body) >= MAX_RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except RefusedAddress as exc:
            return replace(failure, error=str(exc), duration_ms=elapsed())
        except TimeoutError:
            return replace(
                failure,
                error=f"Timeout after {timeout_seconds:g} s",
                retryable=True,
                duration_ms=elapsed(),
            )
        except (httpx.HTTPError, OSError) as exc:
            return replace(failure, error=_one_line(exc), retryable=True, duration_ms=elapsed())
        return self._judge(provider, failure, response, bytes(body), elapsed())

    @staticmethod
    def _judge(
        provider: Provider,
        failure: AttemptResult,
        response: httpx.Response,
        body: bytes,
        duration_ms: int,
    ) -> AttemptResult:
        status = response.status_code
        text = excerpt(body)
        if 200 <= status < 300:
            return AttemptResult(
                outcome=DeliveryOutcome.SUCCESS,
                duration_ms=duration_ms,
                http_status=status,
                response_excerpt=text,
                request_id=failure.request_id,
                provider_activity_id=provider.parse_response(ProviderResponse(status, body)),
            )
        error = f"HTTP {status}"
        if 300 <= status < 400:
            location = response.headers.get("location")
            error += f": redirect not followed (Location: {location[:200]})" if location else ""
        elif status == 410:
            error += ": the endpoint is gone; the dispatch config was deactivated"
        retryable = status >= 500 or status in RETRYABLE_STATUSES
        return replace(
            failure,
            duration_ms=duration_ms,
            http_status=status,
            error=error,
            response_excerpt=text,
            retryable=retryable,
            retry_after_seconds=retry_after(response.headers.get("retry-after"))
            if retryable
            else None,
            gone=status == 410,
        )
