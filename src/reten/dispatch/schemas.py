"""Dispatch request and response shapes (management-api.md §3, §14.2–14.14, §11.14).

`credentials` is a free-form object (§1.4): its keys are the provider's, never re-cased, and its
values never appear in a response. `settings` is a structured object: its keys are accepted in
snake_case or camelCase, stored snake_case and returned camelCase, always complete.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

from fastapi import Request
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from reten.activities.models import Channel
from reten.dispatch.models import (
    ChannelDefinition,
    DispatchAttempt,
    DispatchConfig,
    DispatchProvider,
)
from reten.kit.jsonbody import body_of, immutable
from reten.kit.pagination import Page
from reten.kit.schemas import Bool, InputModel, Int, ReadModel, SpelledInput, Timestamp
from reten.kit.validators import NoNull

# Keys whose values are the caller's data and are never re-cased (§1.4).
FREEFORM = frozenset({"credentials"})
SpelledT = TypeVar("SpelledT", bound=SpelledInput)
# Fields a PATCH refuses with 400 instead of ignoring (§14.8).
CONFIG_IMMUTABLE = ("dispatch_provider_id", "channel")

MAX_BASE_URL = 2048
MAX_CREDENTIAL_VALUE = 4096

# §14.4: (minimum, maximum) of each integer setting, and the defaults filled in when a setting
# was never given. Stored snake_case, complete, in DispatchConfig.settings.
SETTING_RANGES: Mapping[str, tuple[int, int]] = {
    "timeout_seconds": (1, 30),
    "max_concurrency": (1, 32),
    "disable_after_consecutive_failures": (0, 10_000),
}
RETRY_SCHEDULE_ENTRIES = (1, 10)
RETRY_DELAY_SECONDS = (0, 86_400)
SETTINGS_DEFAULTS: Mapping[str, Any] = {
    "timeout_seconds": 10,
    "retry_schedule": (0, 30, 300),
    "max_concurrency": 4,
    "disable_after_consecutive_failures": 50,
}
UNKNOWN_SETTING = "is not a known setting (" + ", ".join(SETTINGS_DEFAULTS) + ")"


def complete_settings(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting, snake_case: the stored value where there is one, else the default."""
    out = {name: stored.get(name, default) for name, default in SETTINGS_DEFAULTS.items()}
    out["retry_schedule"] = list(out["retry_schedule"])
    return out


def _check_base_url(url: str) -> str:
    """An absolute http:// or https:// URL with a host.

    User names and passwords in the URL are refused: the base URL is shown in every response,
    and credentials belong in `credentials`, which is sealed."""
    expected = "must be an absolute http:// or https:// URL"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError(expected)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(expected)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("must not contain a user name or password")
    return url


def _check_credential_value(value: Any) -> str:
    # CR and LF are refused too: every provider sends credentials in HTTP headers, which cannot
    # carry them. Values are otherwise kept verbatim (§1.4 free-form), spaces included.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_CREDENTIAL_VALUE:
        raise ValueError(f"must be 1-{MAX_CREDENTIAL_VALUE} characters")
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    return value


def _in_range(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be an integer between {low} and {high}")
        return value

    return AfterValidator(check)


def _schedule_length(value: list[int]) -> list[int]:
    fewest, most = RETRY_SCHEDULE_ENTRIES
    if not fewest <= len(value) <= most:
        raise ValueError(f"must hold {fewest}-{most} entries")
    return value


BaseUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BASE_URL),
    AfterValidator(_check_base_url),
]
# Any, not str: the model strips strings, and a credential is stored exactly as sent.
CredentialValue = Annotated[Any, AfterValidator(_check_credential_value)]
Credentials = dict[str, CredentialValue]
TimeoutSeconds = Annotated[Int, _in_range(*SETTING_RANGES["timeout_seconds"])]
RetryDelay = Annotated[Int, _in_range(*RETRY_DELAY_SECONDS)]
RetrySchedule = Annotated[list[RetryDelay], AfterValidator(_schedule_length)]
MaxConcurrency = Annotated[Int, _in_range(*SETTING_RANGES["max_concurrency"])]
FailureLimit = Annotated[Int, _in_range(*SETTING_RANGES["disable_after_consecutive_failures"])]


class DispatchSettingsInput(InputModel):
    """`settings` of 14.4. Every key optional; unknown keys are refused (§14.4)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    timeout_seconds: Annotated[TimeoutSeconds | None, NoNull] = None
    retry_schedule: Annotated[RetrySchedule | None, NoNull] = None
    max_concurrency: Annotated[MaxConcurrency | None, NoNull] = None
    disable_after_consecutive_failures: Annotated[FailureLimit | None, NoNull] = None

    def given(self) -> dict[str, Any]:
        """The settings the caller sent, snake_case."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class DispatchConfigCreate(SpelledInput):
    """14.7. The provider's own rules (base URL required, credential keys) need the provider and
    its channel definition, so the service checks them after looking the provider up."""

    dispatch_provider_id: Annotated[uuid.UUID, NoNull]
    channel: Annotated[Channel, NoNull]
    base_url: BaseUrl | None = None
    # repr=False: a model printed in a traceback or a debugger must not show a credential.
    credentials: Annotated[Credentials | None, NoNull] = Field(default=None, repr=False)
    settings: Annotated[DispatchSettingsInput | None, NoNull] = None
    is_active: Annotated[Bool, NoNull] = True


class DispatchConfigUpdate(SpelledInput):
    """14.8. `model_fields_set` tells "not given" from an explicit null, which clears
    `base_url` or `credentials` (when the provider allows it)."""

    base_url: BaseUrl | None = None
    credentials: Credentials | None = Field(default=None, repr=False)
    settings: Annotated[DispatchSettingsInput | None, NoNull] = None
    is_active: Annotated[Bool | None, NoNull] = None


def config_body(
    model: type[SpelledT], immutable_fields: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[SpelledT]]:
    """A config body: the API's body rules, with the refusal of unknown settings spelled out."""
    return body_of(
        model,
        FREEFORM,
        refused=immutable(*immutable_fields),
        messages={"extra_forbidden": UNKNOWN_SETTING},
    )


# --- responses ------------------------------------------------------------------------------------


class ChannelDefinitionSummary(ReadModel):
    """A channel definition as nested in DispatchProvider (§3)."""

    channel: str
    credential_schema: list[dict[str, Any]]
    settings_schema: list[dict[str, Any]]


class DispatchProviderRead(ReadModel):
    id: uuid.UUID
    code: str
    name: str
    protocol_type: str
    is_active: bool
    channel_definitions: list[ChannelDefinitionSummary]

    @classmethod
    def of(
        cls, provider: DispatchProvider, definitions: list[ChannelDefinition]
    ) -> DispatchProviderRead:
        return cls(
            id=provider.id,
            code=provider.code,
            name=provider.name,
            protocol_type=provider.protocol_type,
            is_active=provider.is_active,
            channel_definitions=[ChannelDefinitionSummary.model_validate(d) for d in definitions],
        )


class ChannelDefinitionRead(ReadModel):
    id: uuid.UUID
    dispatch_provider_id: uuid.UUID
    channel: str
    credential_schema: list[dict[str, Any]]
    settings_schema: list[dict[str, Any]]
    created_at: Timestamp
    updated_at: Timestamp


class DispatchSettingsRead(ReadModel):
    timeout_seconds: int
    retry_schedule: list[int]
    max_concurrency: int
    disable_after_consecutive_failures: int


class DispatchProviderRef(ReadModel):
    id: uuid.UUID
    code: str
    name: str


class DispatchConfigRead(ReadModel):
    """DispatchConfig (§3). Credentials never appear; only their key names do."""

    id: uuid.UUID
    dispatch_provider_id: uuid.UUID
    channel: str
    base_url: str | None
    settings: DispatchSettingsRead
    is_active: bool
    has_credentials: bool
    credential_keys: list[str]
    has_signing_secret: bool
    previous_secret_expires_at: Timestamp | None
    consecutive_failures: int
    deactivated_reason: str | None
    deactivated_at: Timestamp | None
    dispatch_provider: DispatchProviderRef
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(
        cls,
        config: DispatchConfig,
        provider: DispatchProvider,
        now: datetime,
        **extra: Any,
    ) -> Self:
        expires = config.previous_secret_expires_at
        return cls(
            id=config.id,
            dispatch_provider_id=config.dispatch_provider_id,
            channel=config.channel,
            base_url=config.base_url,
            settings=DispatchSettingsRead.model_validate(complete_settings(config.settings or {})),
            is_active=config.is_active,
            has_credentials=config.credentials_encrypted is not None,
            credential_keys=list(config.credential_keys or []),
            has_signing_secret=config.signing_secret_encrypted is not None,
            # Shown only while the previous secret still signs (§3: "during the 24 h").
            previous_secret_expires_at=expires if expires is not None and now < expires else None,
            consecutive_failures=config.consecutive_failures,
            deactivated_reason=config.deactivated_reason,
            deactivated_at=config.deactivated_at,
            dispatch_provider=DispatchProviderRef.model_validate(provider),
            created_at=config.created_at,
            updated_at=config.updated_at,
            **extra,
        )


class DispatchConfigWithSecretRead(DispatchConfigRead):
    """The answer of 14.7 (WEBHOOK) and 14.12: the only places the signing secret is shown."""

    signing_secret: str


class DeliveryAttemptRead(ReadModel):
    id: uuid.UUID
    activity_id: uuid.UUID
    dispatch_config_id: uuid.UUID
    attempt_number: int
    trigger: str
    outcome: str
    http_status: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None
    request_id: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, attempt: DispatchAttempt) -> DeliveryAttemptRead:
        return cls.model_validate(attempt)


class DeliveryAttemptPage(Page[DeliveryAttemptRead]):
    """GET /api/dispatch-configs/:id/attempts."""


class ResendAcceptedRead(ReadModel):
    """14.12 resend: accepted, delivered in the background."""

    activity_id: uuid.UUID
    dispatch_config_id: uuid.UUID
    request_id: str | None


class DeliveryTestRead(ReadModel):
    """14.13: the outcome of one synthetic delivery (nothing stored)."""

    outcome: str
    http_status: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None
    request_id: str | None
