from __future__ import annotations

import uuid
from typing import Any

from reten.dispatch.models import ProviderCode
from reten.dispatch.providers.base import (
    DeliveryConfig,
    OutboundRequest,
    Provider,
    ProviderResponse,
)


class MockProvider(Provider):
    """No network: every delivery succeeds at once (demos, pull-style tests, onboarding)."""

    code = ProviderCode.MOCK
    name = "Mock Provider"
    protocol_type = "NONE"
    uses_network = False
    requires_base_url = False

    def build_request(
        self, payload: dict[str, Any], config: DeliveryConfig, *, message_id: str
    ) -> OutboundRequest | None:
        return None

    def parse_response(self, response: ProviderResponse | None) -> str | None:
        return str(uuid.uuid4())
