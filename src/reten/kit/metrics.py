"""Prometheus metrics machinery: the HTTP middleware, the exposition, multi-process mode.

One process (`reten serve`, `reten worker`): metrics live in this process's default registry.
Several API processes (`reten serve --workers N`): the supervisor points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory before it starts them, every process writes its
samples there, and a scrape of any one of them answers for all of them together.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets for an API whose typical answer takes a few milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "reten_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "reten_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template, method "
    "and status code.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

# Requests no route matched are counted under one label, so scanners cannot grow the series.
UNMATCHED = "<unmatched>"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_multiprocess_dir() -> str:
    """Called by the supervisor before it starts API processes: a fresh, empty directory."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        # Files of a previous run would be added to this run's counters.
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
    else:
        path = tempfile.mkdtemp(prefix="reten-metrics-")
        os.environ[MULTIPROC_ENV] = path
    return path


def exposition(extra: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The text exposition of this process (or of every process, in multi-process mode), plus
    the scrape-time gauges in `extra`."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    if extra is not None:
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (`/api/activities/{id}`, never
    the raw path). Pure ASGI and allocation-light: on the hot path it costs two clock reads, a
    dictionary lookup and two sample updates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (route, method, status) -> the two bound children; labels() takes a lock and builds a
        # tuple each call, so the children are looked up once per combination.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            key = (template, scope["method"], status)
            children = self._children.get(key)
            if children is None:
                labels = (template, scope["method"], str(status))
                children = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def bound(metric: Any, *labels: str) -> Callable[[], None]:
    """`metric.labels(*labels).inc` looked up once, for counters incremented on hot paths."""
    return metric.labels(*labels).inc  # type: ignore[no-any-return]
