"""Request and response bodies of the resolution endpoints (management-api.md §3 TargetUser,
ActivityAttribute; §11.10). `schemas.py` holds the input shapes shared with activity creation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from reten.activity_config.models import AttributeKey
from reten.activity_config.schemas import AttributeKeyRef
from reten.kit.schemas import InputModel, ReadModel, Timestamp
from reten.kit.validators import NoNull, join_name
from reten.resolution.models import ActivityAttribute, AttributeStatus
from reten.resolution.service import TargetUserView


class TargetUserAssign(InputModel):
    """11.10 body."""

    commerce_user_id: Annotated[uuid.UUID, NoNull]


class CommerceUserRef(ReadModel):
    id: uuid.UUID
    name: str | None
    first_name: str | None
    last_name: str | None


class TargetUserRead(ReadModel):
    id: uuid.UUID
    commerce_user_id: uuid.UUID | None
    resolution_status: str
    resolution_strategy: str
    lock_reason: str | None
    resolved_at: Timestamp | None
    locked_at: Timestamp | None
    commerce_user: CommerceUserRef | None

    @classmethod
    def of(cls, view: TargetUserView) -> TargetUserRead:
        t, user = view.target, view.commerce_user
        return cls(
            id=t.id,
            commerce_user_id=t.commerce_user_id,
            resolution_status=t.resolution_status,
            resolution_strategy=t.resolution_strategy,
            lock_reason=t.lock_reason,
            resolved_at=t.resolved_at,
            locked_at=t.locked_at,
            commerce_user=(
                CommerceUserRef(
                    id=user.id,
                    name=join_name(user.first_name, user.last_name),
                    first_name=user.first_name,
                    last_name=user.last_name,
                )
                if user is not None
                else None
            ),
        )


# `value` is shown only once there is one to show (§3: null while PENDING or FAILED).
HIDDEN_VALUE = (AttributeStatus.PENDING.value, AttributeStatus.FAILED.value)


class ActivityAttributeRead(ReadModel):
    id: uuid.UUID
    activity_id: uuid.UUID
    attribute_key_id: uuid.UUID
    attribute_key: AttributeKeyRef
    value: Any
    resolution_status: str
    resolver_type: str
    resolved_at: Timestamp | None
    error_message: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, record: ActivityAttribute, key: AttributeKey) -> ActivityAttributeRead:
        return cls(
            id=record.id,
            activity_id=record.activity_id,
            attribute_key_id=record.attribute_key_id,
            attribute_key=AttributeKeyRef(key=key.key, label=key.label),
            value=None if record.resolution_status in HIDDEN_VALUE else record.value,
            resolution_status=record.resolution_status,
            resolver_type=record.resolver_type,
            resolved_at=record.resolved_at,
            error_message=record.error_message,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
