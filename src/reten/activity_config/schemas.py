from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reten.activity_config.criteria import CriteriaInput, criteria_with_priorities
from reten.activity_config.models import (
    AttributeKey,
    AttributePolicy,
    AttributeStrategy,
    ResolverType,
    ResultOutcome,
    TargetResolutionConfig,
    TargetResolutionCriteria,
    TargetResolutionStrategy,
)
from reten.config import Environment
from reten.kit.schemas import Bool, InputModel, Int, Name255, ReadModel, Timestamp
from reten.kit.validators import NoNull

# Cross-field problems of a parsed body: (location in snake_case, message).
Problems = list[tuple[tuple[str | int, ...], str]]

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class TaskResultTypeCreate(InputModel):
    code: str
    label: Name255
    requires_future_scheduled_at: Bool = False
    outcome: ResultOutcome = ResultOutcome.EFFECTIVE
    is_active: Bool = True
    sort_order: Int = 0

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError("must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SALE_COMPLETED)")
        return value


class TaskResultTypeUpdate(InputModel):
    label: Annotated[Name255 | None, NoNull] = None
    requires_future_scheduled_at: Annotated[Bool | None, NoNull] = None
    outcome: Annotated[ResultOutcome | None, NoNull] = None
    is_active: Annotated[Bool | None, NoNull] = None
    sort_order: Annotated[Int | None, NoNull] = None


class TaskResultTypeRead(ReadModel):
    id: uuid.UUID
    code: str
    label: str
    requires_future_scheduled_at: bool
    outcome: str
    is_active: bool
    sort_order: int
    created_at: Timestamp
    updated_at: Timestamp


# --- attribute keys and policies (management-api.md §13.5–13.7) ---------------------------------


class AttributeKeyRef(ReadModel):
    key: str
    label: str


class AttributeKeyRead(ReadModel):
    id: uuid.UUID
    key: str
    label: str
    description: str | None


MAX_HOOK_URL = 2000
MIN_HOOK_TIMEOUT_MS = 100
MAX_HOOK_TIMEOUT_MS = 10_000
DEFAULT_HOOK_TIMEOUT_MS = 3000
HookTimeoutMs = Annotated[Int, Field(ge=MIN_HOOK_TIMEOUT_MS, le=MAX_HOOK_TIMEOUT_MS)]


def hook_url_problem(url: str, environment: Environment) -> str | None:
    """Why `url` cannot be a CLIENT_HOOK endpoint, or None when it can.

    An absolute `https://` URL with a host and no userinfo; `http://` too in development."""
    schemes = ("https", "http") if environment == Environment.DEVELOPMENT else ("https",)
    expected = (
        "an absolute http:// or https:// URL" if len(schemes) == 2 else ("an absolute https:// URL")
    )
    if any(c.isspace() or ord(c) < 32 for c in url):
        return f"must be {expected}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return f"must be {expected}"
    if parts.scheme.lower() not in schemes or not parts.hostname:
        return f"must be {expected}"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not contain a user name or password"
    return None


def hook_problems(
    resolver_type: ResolverType,
    hook_url: str | None,
    hook_timeout_ms: int | None,
    environment: Environment,
) -> Problems:
    """The 13.7 rules of `hook_url` and `hook_timeout_ms` for `resolver_type`."""
    if resolver_type != ResolverType.CLIENT_HOOK:
        problems: Problems = []
        if hook_url is not None:
            problems.append((("hook_url",), "must be absent unless resolver_type is CLIENT_HOOK"))
        if hook_timeout_ms is not None:
            problems.append(
                (("hook_timeout_ms",), "must be absent unless resolver_type is CLIENT_HOOK")
            )
        return problems
    if hook_url is None:
        return [(("hook_url",), "is required when resolver_type is CLIENT_HOOK")]
    problem = hook_url_problem(hook_url, environment)
    return [(("hook_url",), problem)] if problem else []


class AttributePolicyUpsert(InputModel):
    """13.7. The strategy may be sent as `strategy` or `resolution_strategy` (or both, equal).

    `hook_url` and `hook_timeout_ms` belong to CLIENT_HOOK policies only (see hook_problems)."""

    attribute_key_id: Annotated[uuid.UUID, NoNull]
    strategy: Annotated[AttributeStrategy | None, NoNull] = None
    resolution_strategy: Annotated[AttributeStrategy | None, NoNull] = None
    resolver_type: Annotated[ResolverType, NoNull]
    hook_url: Annotated[str, Field(min_length=1, max_length=MAX_HOOK_URL)] | None = None
    hook_timeout_ms: HookTimeoutMs | None = None

    @property
    def effective_hook_timeout_ms(self) -> int | None:
        """The timeout to store: the given one, or the default when a hook is configured."""
        if self.resolver_type != ResolverType.CLIENT_HOOK or self.hook_url is None:
            return None
        return self.hook_timeout_ms or DEFAULT_HOOK_TIMEOUT_MS

    @property
    def effective_strategy(self) -> AttributeStrategy:
        chosen = self.strategy or self.resolution_strategy
        assert chosen is not None, "problems() refuses a body without a strategy"
        return chosen

    # The server's environment, given as validation context by the endpoint: plain http hooks
    # are for development only. Without context the stricter rule applies.
    _env: Environment = PrivateAttr(default=Environment.PRODUCTION)

    @model_validator(mode="after")
    def _environment(self, info: ValidationInfo) -> AttributePolicyUpsert:
        self._env = (info.context or {}).get("env", Environment.PRODUCTION)
        return self

    def problems(self) -> Problems:
        if self.strategy is None and self.resolution_strategy is None:
            return [(("strategy",), "is required (as strategy or resolution_strategy)")]
        if (
            self.strategy is not None
            and self.resolution_strategy is not None
            and self.strategy != self.resolution_strategy
        ):
            return [(("resolution_strategy",), "must equal strategy when both are given")]
        caller_strategy = self.effective_strategy == AttributeStrategy.CALLER_PROVIDED
        caller_resolver = self.resolver_type == ResolverType.CALLER_PROVIDED
        if caller_strategy and not caller_resolver:
            return [
                (("resolver_type",), "must be CALLER_PROVIDED when the strategy is CALLER_PROVIDED")
            ]
        if caller_resolver and not caller_strategy:
            return [
                (
                    ("resolver_type",),
                    "must not be CALLER_PROVIDED unless the strategy is CALLER_PROVIDED",
                )
            ]
        return hook_problems(self.resolver_type, self.hook_url, self.hook_timeout_ms, self._env)


class AttributePolicyRead(ReadModel):
    id: uuid.UUID
    attribute_key_id: uuid.UUID
    strategy: str
    resolution_strategy: str
    resolver_type: str
    hook_url: str | None
    hook_timeout_ms: int | None
    attribute_key: AttributeKeyRef
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, policy: AttributePolicy, key: AttributeKey) -> AttributePolicyRead:
        return cls(
            id=policy.id,
            attribute_key_id=policy.attribute_key_id,
            strategy=policy.resolution_strategy,
            resolution_strategy=policy.resolution_strategy,
            resolver_type=policy.resolver_type,
            hook_url=policy.hook_url,
            hook_timeout_ms=policy.hook_timeout_ms,
            attribute_key=AttributeKeyRef(key=key.key, label=key.label),
            created_at=policy.created_at,
            updated_at=policy.updated_at,
        )


# --- target resolution configs (management-api.md §13.8–13.11) ----------------------------------

# Priorities are stored in 32-bit integer columns.
MAX_PRIORITY = 2**31 - 1
Priority = Annotated[Int, Field(ge=0, le=MAX_PRIORITY)]
MAX_CRITERIA = 10


def _criteria_problems(criteria: list[CriteriaInput] | None) -> Problems:
    if not criteria:
        return []
    problems: Problems = [
        (("criteria", i, "priority"), f"must be at most {MAX_PRIORITY}")
        for i, item in enumerate(criteria)
        if item.priority is not None and item.priority > MAX_PRIORITY
    ]
    try:
        criteria_with_priorities(criteria)
    except ValueError as exc:
        problems.append((("criteria",), str(exc)))
    return problems


class TargetResolutionConfigCreate(InputModel):
    resolution_strategy: Annotated[TargetResolutionStrategy, NoNull]
    fallback_to_commerce_rep: Annotated[Bool, NoNull] = True
    fallback_to_owner: Annotated[Bool, NoNull] = True
    priority: Annotated[Priority, NoNull] = 0
    is_active: Annotated[Bool, NoNull] = True
    criteria: Annotated[list[CriteriaInput], Field(max_length=MAX_CRITERIA), NoNull] = Field(
        default_factory=list
    )

    def problems(self) -> Problems:
        return _criteria_problems(self.criteria)


class TargetResolutionConfigUpdate(InputModel):
    """PATCH body: every field optional, none nullable; a given `criteria` replaces the list."""

    resolution_strategy: Annotated[TargetResolutionStrategy | None, NoNull] = None
    fallback_to_commerce_rep: Annotated[Bool | None, NoNull] = None
    fallback_to_owner: Annotated[Bool | None, NoNull] = None
    priority: Annotated[Priority | None, NoNull] = None
    is_active: Annotated[Bool | None, NoNull] = None
    criteria: Annotated[list[CriteriaInput] | None, Field(max_length=MAX_CRITERIA), NoNull] = None

    def problems(self) -> Problems:
        return _criteria_problems(self.criteria)


class TargetCriteriaRead(ReadModel):
    id: uuid.UUID
    criteria_type: str
    criteria_config: dict[str, Any]
    priority: int


class TargetResolutionConfigRead(ReadModel):
    id: uuid.UUID
    resolution_strategy: str
    fallback_to_commerce_rep: bool
    fallback_to_owner: bool
    priority: int
    is_active: bool
    criteria: list[TargetCriteriaRead]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(
        cls, config: TargetResolutionConfig, criteria: list[TargetResolutionCriteria]
    ) -> TargetResolutionConfigRead:
        return cls(
            id=config.id,
            resolution_strategy=config.resolution_strategy,
            fallback_to_commerce_rep=config.fallback_to_commerce_rep,
            fallback_to_owner=config.fallback_to_owner,
            priority=config.priority,
            is_active=config.is_active,
            criteria=[TargetCriteriaRead.model_validate(c) for c in criteria],
            created_at=config.created_at,
            updated_at=config.updated_at,
        )
