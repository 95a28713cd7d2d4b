"""The provider interface: how one activity payload becomes one HTTP request, and back.

A provider never touches the network or the database itself; the delivery engine sends what
`build_request` describes and hands the answer to `parse_response`. Adding a provider is one
module with one subclass of `Provider` plus its entry in `providers.REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from reten.dispatch.models import ProviderCode


@dataclass(frozen=True)
class DeliveryConfig:
    """What a provider may read of a dispatch config, with credentials already decrypted."""

    base_url: str | None
    credentials: dict[str, str]
    # Current signing secret first; the previous one during the 24 h after a rotation.
    signing_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # The webhook-id sent, shown as the attempt's requestId (None when the provider has none).
    request_id: str | None = None


@dataclass(frozen=True)
class ProviderResponse:
    status_code: int
    body: bytes


class Provider:
    code: ClassVar[ProviderCode]
    name: ClassVar[str]
    protocol_type: ClassVar[str]  # REST or NONE
    credential_schema: ClassVar[list[dict[str, Any]]] = []
    settings_schema: ClassVar[list[dict[str, Any]]] = []
    # False for providers that deliver without the network (MOCK): `build_request` returns None.
    uses_network: ClassVar[bool] = True
    requires_base_url: ClassVar[bool] = True
    signs_deliveries: ClassVar[bool] = False

    def build_request(
        self, payload: dict[str, Any], config: DeliveryConfig, *, message_id: str
    ) -> OutboundRequest | None:
        raise NotImplementedError

    def parse_response(self, response: ProviderResponse | None) -> str | None:
        """The provider's id for the delivered activity, when the answer carries one."""
        return provider_id_from_json(response.body) if response is not None else None


def provider_id_from_json(body: bytes) -> str | None:
    # dispatch.md: `id`, `activityId` or `providerActivityId`, when it is a string.
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("id", "activityId", "providerActivityId"):
        value = data.get(key)
        if isinstance(value, str) and 0 < len(value) <= 255:
            return value
    return None
