"""UTC time helpers and the one timestamp format of the API (`YYYY-MM-DDTHH:MM:SS.sssZ`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back; everything stored is UTC, so naive means UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = ensure_utc(value)
    # isoformat is several times faster than strftime, and this runs for every timestamp of
    # every list item.
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries `Z` or an explicit offset.

    Raises ValueError when the text is not a timestamp or has no offset (the API refuses
    timestamps whose zone would have to be guessed).
    """
    candidate = text.strip()
    if candidate.endswith(("z", "Z")):
        candidate = candidate[:-1] + "+00:00"
    parsed = datetime.fromisoformat(candidate)
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return parsed.astimezone(UTC)


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of `now`'s day in `tz`, in UTC (what "today" means to a tenant)."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of `now`'s week in `tz`, in UTC."""
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday.astimezone(UTC)
