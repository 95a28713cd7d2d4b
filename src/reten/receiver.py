"""Verify the push deliveries Reten sends to a WEBHOOK endpoint (Standard Webhooks).

    from reten.receiver import verify, SignatureError, PayloadError

    event = verify(body, headers, secret)        # raw body bytes, request headers, whsec_...
    event.data.id, event.data.commerce.external_id, event.webhook_id

`verify` checks the signature with the `standardwebhooks` package and the timestamp against
`tolerance`, then parses the envelope into a typed `ActivityDispatched`. A forged, stale or
unsigned request raises `SignatureError` (answer 401 and drop it); a correctly signed body of
the wrong shape raises `PayloadError` (answer 400: retrying will not help). During a secret
rotation pass both secrets; a delivery signed by either is accepted.

Imports nothing from the server side.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from standardwebhooks.webhooks import Webhook

from reten.client.models import CodeLabel, Model

DEFAULT_TOLERANCE = 300


class ReceiverError(Exception):
    """Base of the receiver's errors."""


class SignatureError(ReceiverError):
    """The request is not a genuine, fresh delivery: missing headers, bad signature, stale."""


class PayloadError(ReceiverError):
    """The signature is valid but the body is not an `activity.dispatched` envelope."""


class PrimaryAddress(Model):
    formatted_address: str | None
    latitude: float | None
    longitude: float | None


class DispatchedCommerce(Model):
    id: str
    external_id: str
    name: str
    tax_id: str | None
    primary_address: PrimaryAddress | None
    metadata: dict[str, Any]


class DispatchedOperator(Model):
    id: str
    external_id: str | None
    name: str | None
    type: str
    email: str | None
    phone: str | None


class DispatchedRoute(Model):
    id: str
    external_id: str | None
    name: str


class TargetContact(Model):
    type: str
    value: str


class TargetUser(Model):
    commerce_user_id: str
    name: str | None
    contacts: list[TargetContact]


class TenantRef(Model):
    id: str
    slug: str


class ResultCallback(Model):
    """Where and with which ids to report the activity's result."""

    url: str
    activity_id: str
    commerce_external_id: str


class DispatchedActivity(Model):
    """The activity payload (the same for every provider)."""

    id: str
    type: str
    channel: str
    status: str
    scheduled_at: datetime
    suggested_execution_time: datetime | None
    created_at: datetime
    reason: CodeLabel
    user_status: CodeLabel | None
    score: int | None
    tenant: TenantRef
    commerce: DispatchedCommerce
    operator: DispatchedOperator | None
    route: DispatchedRoute | None
    target_users: list[TargetUser]
    attributes: dict[str, Any]
    result_callback: ResultCallback


class ActivityDispatched(Model):
    """A verified delivery. `webhook_id` is stable across retries and resends: de-duplicate on it."""

    type: Literal["activity.dispatched"]
    timestamp: datetime
    data: DispatchedActivity
    webhook_id: str = ""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise SignatureError(f"missing {name} header")


def _signatures(header: str) -> list[bytes]:
    found = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> ActivityDispatched:
    """Check a delivery's signature and freshness, then parse it. See the module docstring."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise ValueError("at least one signing secret is required")
    message_id = _header(headers, "webhook-id")
    sent_at = _header(headers, "webhook-timestamp")
    offered = _signatures(_header(headers, "webhook-signature"))
    try:
        seconds = int(sent_at)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a unix timestamp") from None
    if abs(time.time() - seconds) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance window")
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None
    at = datetime.fromtimestamp(seconds, UTC)
    for key in keys:
        expected = base64.b64decode(Webhook(key).sign(message_id, at, text).split(",", 1)[1])
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            break
    else:
        raise SignatureError("no signature matches the signing secret")
    try:
        envelope = json.loads(text)
    except ValueError:
        raise PayloadError("body is not JSON") from None
    if not isinstance(envelope, dict):
        raise PayloadError("body is not a JSON object")
    try:
        return ActivityDispatched.model_validate({**envelope, "webhook_id": message_id})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise PayloadError(f"not an activity.dispatched event: {problems}") from None


def new_secret() -> str:
    """A signing secret in Reten's format (`whsec_` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(
    payload: Mapping[str, Any] | bytes,
    secret: str | Sequence[str],
    *,
    message_id: str | None = None,
    timestamp: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery, as Reten would send it: (body, headers). For receivers' own tests.

    `payload` is the activity payload (it is wrapped in the envelope) or finished body bytes.
    """
    at = timestamp or datetime.now(UTC)
    if isinstance(payload, bytes):
        body = payload
    else:
        envelope = {"type": "activity.dispatched", "timestamp": at.isoformat(), "data": payload}
        body = json.dumps(envelope, separators=(",", ":")).encode()
    keys = [secret] if isinstance(secret, str) else list(secret)
    msg_id = message_id or f"msg_{secrets.token_hex(16)}"
    signature = " ".join(Webhook(k).sign(msg_id, at, body.decode()) for k in keys)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers


__all__ = [
    "ActivityDispatched",
    "DispatchedActivity",
    "PayloadError",
    "ReceiverError",
    "SignatureError",
    "new_secret",
    "sign",
    "verify",
]
