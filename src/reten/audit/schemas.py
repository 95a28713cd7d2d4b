"""Audit event responses (the page of GET /api/audit-events)."""

from __future__ import annotations

import uuid
from typing import Any

from reten.audit.models import AuditAction, AuditEvent, AuditTargetType
from reten.kit.actor import ActorType
from reten.kit.pagination import Page
from reten.kit.schemas import ReadModel, Timestamp


class AuditActorRead(ReadModel):
    """Who made the change; `label` is the user's email or the key's name when it was made."""

    type: ActorType
    id: uuid.UUID | None
    label: str | None


class AuditTargetRead(ReadModel):
    """What was changed; `label` is a snapshot (email, key name, code, channel, slug)."""

    type: AuditTargetType
    id: uuid.UUID | None
    label: str | None


class AuditEventRead(ReadModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    action: AuditAction
    actor: AuditActorRead
    target: AuditTargetRead
    occurred_at: Timestamp
    # Free-form and returned verbatim (keys are not re-cased): `changes` ({field: {from, to}})
    # on updates, the object's fields on creation, plus action-specific members.
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventRead:
        return cls(
            id=event.id,
            tenant_id=event.tenant_id,
            action=AuditAction(event.action),
            actor=AuditActorRead(
                type=ActorType(event.actor_type), id=event.actor_id, label=event.actor_label
            ),
            target=AuditTargetRead(
                type=AuditTargetType(event.target_type),
                id=event.target_id,
                label=event.target_label,
            ),
            occurred_at=event.occurred_at,
            details=event.details or {},
        )


class AuditEventPage(Page[AuditEventRead]):
    """GET /api/audit-events."""
