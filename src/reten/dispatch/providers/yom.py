from __future__ import annotations

from typing import Any, ClassVar

import orjson

from reten.dispatch.models import ProviderCode
from reten.dispatch.providers.base import DeliveryConfig, OutboundRequest, Provider


class YomProvider(Provider):
    """`POST {base_url}/activities` with the activity payload and the tenant's API key."""

    code = ProviderCode.YOM
    name = "YOM Provider"
    protocol_type = "REST"
    credential_schema: ClassVar[list[dict[str, Any]]] = [
        {"key": "apiKey", "label": "API Key", "type": "password", "required": True}
    ]

    def build_request(
        self, payload: dict[str, Any], config: DeliveryConfig, *, message_id: str
    ) -> OutboundRequest:
        assert config.base_url is not None
        return OutboundRequest(
            url=config.base_url.rstrip("/") + "/activities",
            body=orjson.dumps(payload),
            headers={
                "content-type": "application/json",
                "x-api-key": config.credentials.get("apiKey", ""),
            },
            request_id=message_id,
        )
