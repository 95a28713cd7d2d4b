"""Bulk creation: `POST /api/activities/batch` — a day's plan in one request.

Valid items are created even when others fail. The same rules as a single create apply, but
records are loaded and written in bulk: one query per kind of referenced record, one batched
INSERT per table, and per-item work only for items that need create-time resolution.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Activity
from reten.activities.schemas import FREEFORM_KEYS, ActivityCreate
from reten.activities.service import (
    ActivityInput,
    References,
    _start,
    add_new,
    check_shape,
    input_of,
    resolution_of,
)
from reten.activity_config import service as activity_config
from reten.kit.actor import Actor
from reten.kit.db import TenantRepository
from reten.kit.errors import AppError, error_body
from reten.kit.jsonbody import validate_body
from reten.kit.time import utcnow
from reten.resolution import service as resolution
from reten.resolution.service import ResolutionRequest


class ItemStatus(StrEnum):
    CREATED = "CREATED"
    DUPLICATE = "DUPLICATE"
    ERROR = "ERROR"


@dataclass
class ItemResult:
    index: int
    status: ItemStatus
    activity_id: uuid.UUID | None = None
    error: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "activityId": str(self.activity_id) if self.activity_id else None,
            "error": self.error,
        }


def _error(index: int, exc: AppError) -> ItemResult:
    details = None
    if exc.details:
        # Name fields inside the batch: items[3].channel, not channel.
        details = [{**d, "field": f"items[{index}].{d['field']}"} for d in exc.details]
    return ItemResult(
        index,
        ItemStatus.ERROR,
        error=error_body(exc.status_code, exc.message, details=details, extra=exc.extra),
    )


async def create_batch(
    session: AsyncSession, tenant_id: uuid.UUID, items: list[dict[str, Any]], actor: Actor
) -> list[ItemResult]:
    for _ in range(3):
        try:
            return await _create_batch(session, tenant_id, items, actor)
        except IntegrityError:
            # A concurrent request created one of these idempotency keys between our check and
            # our insert: start over, and that item now reports DUPLICATE.
            await session.rollback()
    return await _create_batch(session, tenant_id, items, actor)


async def _create_batch(
    session: AsyncSession, tenant_id: uuid.UUID, items: list[dict[str, Any]], actor: Actor
) -> list[ItemResult]:
    repo = TenantRepository(session, tenant_id)
    results: list[ItemResult | None] = [None] * len(items)
    valid: list[tuple[int, ActivityInput, ResolutionRequest]] = []
    for index, raw in enumerate(items):
        try:
            if not isinstance(raw, dict):
                raise _NotAnObject()
            body = validate_body(ActivityCreate, raw, FREEFORM_KEYS)
            data = input_of(body)
            check_shape(data)
            request = resolution_of(body)
            if request.attribute_keys or request.attributes or request.target_criteria:
                await resolution.check_request(session, tenant_id, request)
            valid.append((index, data, request))
        except AppError as exc:
            results[index] = _error(index, exc)

    keys = [data.idempotency_key for _, data, _ in valid]
    existing = (
        dict(
            (
                await session.execute(
                    repo.where(Activity, select(Activity.idempotency_key, Activity.id)).where(
                        Activity.idempotency_key.in_(keys)
                    )
                )
            ).all()
        )
        if keys
        else {}
    )
    refs = await References.load(repo, [data for _, data, _ in valid]) if valid else None

    now = utcnow()
    created: list[tuple[int, Activity, uuid.UUID, ResolutionRequest]] = []
    for index, data, request in valid:
        if data.idempotency_key in existing:
            results[index] = ItemResult(index, ItemStatus.DUPLICATE, existing[data.idempotency_key])
            continue
        try:
            assert refs is not None
            commerce = refs.check(data)
        except AppError as exc:
            results[index] = _error(index, exc)
            continue
        activity = add_new(repo, data, commerce.id, now)
        existing[data.idempotency_key] = activity.id  # a later item with the same key: DUPLICATE
        created.append((index, activity, commerce.id, request))
        results[index] = ItemResult(index, ItemStatus.CREATED, activity.id)

    if created:
        # One batched INSERT per table (SQLAlchemy groups the pending rows of each class).
        await session.flush()
        # Resolution only where something may need resolving: the item asks for it, or the
        # tenant has active target-resolution configs (which apply to every activity).
        configs = await activity_config.list_target_configs(session, tenant_id, active_only=True)
        for _, activity, commerce_id, request in created:
            failure = None
            if (
                configs
                or request.attribute_keys
                or request.attributes
                or request.target_criteria is not None
            ):
                failure = await resolution.resolve_on_creation(
                    session, activity, commerce_id, request
                )
            _start(session, activity, failure, actor, now)
        await session.commit()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


class _NotAnObject(AppError):
    status_code = 400
    default_message = "Each item must be a JSON object"
