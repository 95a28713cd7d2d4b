from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from reten.api_keys.models import ApiKey
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp
from reten.kit.time import utcnow


class ApiKeyCreate(InputModel):
    name: Name255
    permissions: list[str] = Field(min_length=1)
    expires_at: Timestamp | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    key_prefix: str
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    is_active: bool
    permissions: list[str]
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    created_at: Timestamp
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        return cls(
            id=key.id,
            name=key.name,
            key_prefix=key.key_prefix,
            user_id=key.user_id,
            tenant_id=key.tenant_id,
            is_active=key.revoked_at is None,
            permissions=list(key.permissions),
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyRead):
    """The only response that ever carries the plaintext (twice, under both names)."""

    plaintext_key: str
    key: str
