"""reten.receiver: signatures (with the standardwebhooks package), freshness, rotation, and the
difference between a forged request and a signed body of the wrong shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from reten.receiver import PayloadError, SignatureError, new_secret, sign, verify


def payload() -> dict[str, Any]:
    return {
        "id": "6f1c2a9e-0000-4000-8000-000000000001", "type": "TASK", "channel": "SALESMAN",
        "status": "READY", "scheduledAt": "2026-04-15T09:00:00.000Z", "suggestedExecutionTime": None,
        "createdAt": "2026-04-10T14:30:00.000Z", "reason": {"code": "retention", "label": "retention"},
        "userStatus": None, "score": 80, "tenant": {"id": "t-1", "slug": "acme"},
        "commerce": {"id": "c-1", "externalId": "COM-001", "name": "Almacén", "taxId": None,
                     "primaryAddress": None, "metadata": {}},
        "operator": None, "route": None, "targetUsers": [], "attributes": {},
        "resultCallback": {"url": "https://reten.example/api/integration/activity-results/tasks",
                           "activityId": "6f1c2a9e-0000-4000-8000-000000000001", "commerceExternalId": "COM-001"},
    }  # fmt: skip


class TestVerify:
    def test_round_trip_and_the_official_library_agrees(self) -> None:
        secret = new_secret()
        body, headers = sign(payload(), secret)
        event = verify(body, headers, secret)
        assert event.type == "activity.dispatched" and event.data.commerce.external_id == "COM-001"
        assert event.webhook_id == headers["webhook-id"]
        assert Webhook(secret).verify(body, headers)["data"]["id"] == event.data.id

    def test_header_names_are_case_insensitive(self) -> None:
        secret = new_secret()
        body, headers = sign(payload(), secret)
        assert verify(body, {k.title(): v for k, v in headers.items()}, secret).data.score == 80

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda b, h: (b.replace(b"COM-001", b"COM-002"), h),
            lambda b, h: (b, {**h, "webhook-id": "msg_other"}),
            lambda b, h: (b, {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}),
            lambda b, h: (b, {**h, "webhook-signature": "v1,bm90LWEtc2lnbmF0dXJl"}),
            lambda b, h: (b, {**h, "webhook-signature": "garbage"}),
            lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-signature"}),
            lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-id"}),
            lambda b, h: (b, {**h, "webhook-timestamp": "yesterday"}),
        ],
        ids=[
            "body",
            "id",
            "timestamp",
            "signature",
            "malformed",
            "no-signature",
            "no-id",
            "bad-ts",
        ],
    )
    def test_forged_or_incomplete_is_a_signature_error(self, tamper: Any) -> None:
        secret = new_secret()
        body, headers = tamper(*sign(payload(), secret))
        with pytest.raises(SignatureError):
            verify(body, headers, secret)

    def test_wrong_secret(self) -> None:
        body, headers = sign(payload(), new_secret())
        with pytest.raises(SignatureError):
            verify(body, headers, new_secret())

    def test_stale_and_future_outside_tolerance(self) -> None:
        secret = new_secret()
        old = datetime.now(UTC) - timedelta(seconds=400)
        body, headers = sign(payload(), secret, timestamp=old)
        with pytest.raises(SignatureError, match="tolerance"):
            verify(body, headers, secret)
        assert verify(body, headers, secret, tolerance=600).data.id
        body, headers = sign(
            payload(), secret, timestamp=datetime.now(UTC) + timedelta(seconds=120)
        )
        with pytest.raises(SignatureError):
            verify(body, headers, secret, tolerance=60)

    def test_rotation_either_secret_and_either_signature(self) -> None:
        old, new = new_secret(), new_secret()
        body, headers = sign(payload(), [new, old])  # both sign during the 24 h after a rotation
        assert len(headers["webhook-signature"].split()) == 2
        assert verify(body, headers, old).data.id
        assert verify(body, headers, [new]).data.id
        body, headers = sign(payload(), old)  # a delivery from before the rotation
        assert verify(body, headers, [new, old]).data.id
        with pytest.raises(ValueError):
            verify(body, headers, [])

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[1, 2]",
            json.dumps({"type": "something.else", "timestamp": "2026-01-01T00:00:00Z", "data": {}}).encode(),
            json.dumps({"type": "activity.dispatched", "timestamp": "2026-01-01T00:00:00Z",
                        "data": {"id": "x"}}).encode(),
        ],
        ids=["not-json", "array", "other-type", "missing-fields"],
    )  # fmt: skip
    def test_signed_but_wrong_shape_is_a_payload_error(self, body: bytes) -> None:
        secret = new_secret()
        signed, headers = sign(body, secret)
        with pytest.raises(PayloadError) as caught:
            verify(signed, headers, secret)
        assert not isinstance(caught.value, SignatureError)
