"""What Reten counts for its operators (docs/operations.md lists every series and what to alert
on). The domains increment these; `GET /metrics` (reten.health) exposes them with the HTTP series
of kit.metrics and the gauges read from the database at scrape time."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event

from reten.kit.db import Database
from reten.kit.metrics import LATENCY_BUCKETS, bound

API_KEY_AUTHENTICATIONS = Counter(
    "reten_api_key_authentications_total",
    "API-key authentications, by outcome: valid, invalid (unknown, malformed, revoked, expired "
    "or its owner gone) or rate_limited.",
    ["outcome"],
)
api_key_valid = bound(API_KEY_AUTHENTICATIONS, "valid")
api_key_invalid = bound(API_KEY_AUTHENTICATIONS, "invalid")
api_key_rate_limited = bound(API_KEY_AUTHENTICATIONS, "rate_limited")

RESULTS_SUBMITTED = Counter(
    "reten_results_submitted_total",
    "Task results submitted (both result endpoints), by outcome: created, replayed (an "
    "Idempotency-Key answered again), conflict (409), rejected (other 4xx) or error (5xx).",
    ["outcome"],
)
result_created = bound(RESULTS_SUBMITTED, "created")
result_replayed = bound(RESULTS_SUBMITTED, "replayed")


def result_failed(status_code: int) -> None:
    if status_code == 409:
        outcome = "conflict"
    elif status_code < 500:
        outcome = "rejected"
    else:
        outcome = "error"
    RESULTS_SUBMITTED.labels(outcome).inc()


DISPATCH_DELIVERIES = Counter(
    "reten_dispatch_deliveries_total",
    "Delivery attempts to providers (scheduled, manual and resends), by provider, channel and "
    "outcome (SUCCESS or FAILURE).",
    ["provider", "channel", "outcome"],
)
DISPATCH_LATENCY = Histogram(
    "reten_dispatch_delivery_duration_seconds",
    "Duration of a delivery attempt, by provider, channel and outcome.",
    ["provider", "channel", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DISPATCH_DEACTIVATIONS = Counter(
    "reten_dispatch_config_deactivations_total",
    "Dispatch configs deactivated by the engine, by reason: HTTP_410 (the provider answered "
    "410 Gone) or CONSECUTIVE_FAILURES (the circuit breaker).",
    ["reason"],
)

DB_POOL_IN_USE = Gauge(
    "reten_db_pool_connections_in_use",
    "Database connections checked out of the process's pool (all processes summed in "
    "multi-process mode).",
    multiprocess_mode="livesum",
)


def record_delivery(provider: str, channel: str, outcome: str, seconds: float) -> None:
    DISPATCH_DELIVERIES.labels(provider, channel, outcome).inc()
    DISPATCH_LATENCY.labels(provider, channel, outcome).observe(seconds)


def track_pool(db: Database) -> None:
    """Keep DB_POOL_IN_USE up to date from the pool's own checkout and checkin events."""
    pool = db.engine.sync_engine.pool

    def checkout(*_: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checkin(*_: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
