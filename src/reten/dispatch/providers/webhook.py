from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from standardwebhooks.webhooks import Webhook

from reten.dispatch.models import ProviderCode
from reten.dispatch.providers.base import DeliveryConfig, OutboundRequest, Provider
from reten.kit.time import iso


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secrets_: tuple[str, ...], message_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,<sig>` per live secret, space-separated (Standard Webhooks)."""
    text = body.decode()
    return " ".join(Webhook(s).sign(message_id, at, text) for s in secrets_)


class WebhookProvider(Provider):
    """`POST {base_url}` with a Standard Webhooks envelope, signed with the config's secret."""

    code = ProviderCode.WEBHOOK
    name = "Webhook"
    protocol_type = "REST"
    credential_schema: ClassVar[list[dict[str, Any]]] = [
        {"key": "bearerToken", "label": "Bearer token", "type": "password", "required": False}
    ]
    signs_deliveries = True

    def build_request(
        self, payload: dict[str, Any], config: DeliveryConfig, *, message_id: str
    ) -> OutboundRequest:
        assert config.base_url is not None
        now = datetime.now(UTC)
        # The bytes signed are the bytes sent: serialise once, sign, send that buffer.
        body = orjson.dumps({"type": "activity.dispatched", "timestamp": iso(now), "data": payload})
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(config.signing_secrets, message_id, now, body),
        }
        token = config.credentials.get("bearerToken")
        if token:
            headers["authorization"] = f"Bearer {token}"
        return OutboundRequest(
            url=config.base_url, body=body, headers=headers, request_id=message_id
        )
