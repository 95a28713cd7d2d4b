"""The provider registry: code -> implementation. Seeded into `dispatch_providers` at start-up."""

from __future__ import annotations

from reten.dispatch.providers.base import Provider
from reten.dispatch.providers.mock import MockProvider
from reten.dispatch.providers.webhook import WebhookProvider
from reten.dispatch.providers.yom import YomProvider

REGISTRY: dict[str, Provider] = {
    p.code: p for p in (MockProvider(), WebhookProvider(), YomProvider())
}


def provider_for(code: str) -> Provider:
    return REGISTRY[code]
