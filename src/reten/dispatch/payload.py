"""The activity payload (dispatch.md): one serializer for every provider.

Built for a whole batch of activities with a fixed number of queries, whatever the batch size,
because the dispatcher serialises up to a round's worth of activities at once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.lifecycle import ActivityStatus
from reten.activities.models import (
    Activity,
    ActivityType,
    Channel,
    CommerceAssignment,
    TaskDetails,
)
from reten.activities.views import code_label
from reten.activity_config.models import AttributeKey
from reten.commerces.models import Address, Commerce, CommerceUser, Contact
from reten.kit.time import iso, utcnow
from reten.kit.validators import join_name
from reten.operators.models import Operator
from reten.resolution.models import (
    ActivityAttribute,
    ActivityTargetUser,
    AttributeStatus,
    TargetUserStatus,
)
from reten.routes.models import Route
from reten.tenants.models import Tenant

RESULT_PATH = "/api/integration/activity-results/tasks"
_USABLE_TARGET = (TargetUserStatus.RESOLVED.value, TargetUserStatus.LOCKED.value)
_USABLE_ATTRIBUTE = (AttributeStatus.RESOLVED.value, AttributeStatus.FALLBACK.value)


def message_id(activity_id: uuid.UUID) -> str:
    """The activity's `webhook-id`: derived from its id, so every retry and resend repeats it."""
    return f"msg_{activity_id.hex}"


def _commerce(c: Commerce, address: Address | None) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "externalId": c.external_id,
        "name": c.name,
        "taxId": c.tax_id,
        "primaryAddress": None
        if address is None
        else {
            "formattedAddress": address.formatted_address,
            "latitude": address.latitude,
            "longitude": address.longitude,
        },
        "metadata": c.metadata_ or {},
    }


def _operator(o: Operator) -> dict[str, Any]:
    return {
        "id": str(o.id),
        "externalId": o.external_id,
        "name": join_name(o.first_name, o.last_name),
        "type": o.type,
        "email": o.email,
        "phone": o.phone,
    }


def build(
    activity: Activity,
    tenant: Tenant,
    commerce: dict[str, Any],
    operator: dict[str, Any] | None,
    route: dict[str, Any] | None,
    target_users: list[dict[str, Any]],
    attributes: dict[str, Any],
    public_url: str,
) -> dict[str, Any]:
    return {
        "id": str(activity.id),
        "type": activity.type,
        "channel": activity.channel,
        "status": activity.status,
        "scheduledAt": iso(activity.scheduled_at),
        "suggestedExecutionTime": iso(activity.suggested_execution_time),
        "createdAt": iso(activity.created_at),
        "reason": code_label(activity.reason),
        "userStatus": code_label(activity.user_status),
        "score": activity.score,
        "tenant": {"id": str(tenant.id), "slug": tenant.slug},
        "commerce": commerce,
        "operator": operator,
        "route": route,
        "targetUsers": target_users,
        "attributes": attributes,
        "resultCallback": {
            "url": public_url.rstrip("/") + RESULT_PATH,
            "activityId": str(activity.id),
            "commerceExternalId": commerce["externalId"],
        },
    }


async def load_payloads(
    session: AsyncSession, activities: Sequence[Activity], public_url: str
) -> dict[uuid.UUID, dict[str, Any]]:
    """Payloads of `activities` (any tenants), keyed by activity id. Seven queries in all."""
    if not activities:
        return {}
    ids = [a.id for a in activities]
    tenant_ids = {a.tenant_id for a in activities}
    tenants = {
        t.id: t
        for t in (await session.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)))).scalars()
    }
    commerce_rows = (
        await session.execute(
            select(CommerceAssignment.activity_id, Commerce)
            .join(Commerce, Commerce.id == CommerceAssignment.commerce_id)
            .where(CommerceAssignment.activity_id.in_(ids))
        )
    ).all()
    commerce_ids = {c.id for _, c in commerce_rows}
    primary = {
        a.commerce_id: a
        for a in (
            await session.execute(
                select(Address).where(
                    Address.commerce_id.in_(commerce_ids),
                    Address.is_primary.is_(True),
                    Address.is_active.is_(True),
                )
            )
        ).scalars()
    }
    commerces = {aid: _commerce(c, primary.get(c.id)) for aid, c in commerce_rows}
    task_rows = (
        await session.execute(
            select(TaskDetails.activity_id, Operator, Route)
            .join(Operator, Operator.id == TaskDetails.operator_id)
            .join(Route, Route.id == TaskDetails.route_id)
            .where(TaskDetails.activity_id.in_(ids))
        )
    ).all()
    tasks = {
        aid: (
            _operator(o),
            {"id": str(r.id), "externalId": r.external_id, "name": r.name},
        )
        for aid, o, r in task_rows
    }
    target_rows = (
        await session.execute(
            select(ActivityTargetUser.activity_id, CommerceUser)
            .join(CommerceUser, CommerceUser.id == ActivityTargetUser.commerce_user_id)
            .where(
                ActivityTargetUser.activity_id.in_(ids),
                ActivityTargetUser.resolution_status.in_(_USABLE_TARGET),
            )
        )
    ).all()
    contacts: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
    if target_rows:
        for contact in (
            await session.execute(
                select(Contact)
                .where(
                    Contact.commerce_user_id.in_({u.id for _, u in target_rows}),
                    Contact.is_active.is_(True),
                )
                .order_by(Contact.is_primary.desc(), Contact.created_at)
            )
        ).scalars():
            contacts[contact.commerce_user_id].append(
                {"type": contact.type, "value": contact.value}
            )
    targets: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for aid, user in target_rows:
        targets[aid].append(
            {
                "commerceUserId": str(user.id),
                "name": join_name(user.first_name, user.last_name),
                "contacts": contacts.get(user.id, []),
            }
        )
    attributes: dict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    for aid, key, value in (
        await session.execute(
            select(ActivityAttribute.activity_id, AttributeKey.key, ActivityAttribute.value)
            .join(AttributeKey, AttributeKey.id == ActivityAttribute.attribute_key_id)
            .where(
                ActivityAttribute.activity_id.in_(ids),
                ActivityAttribute.resolution_status.in_(_USABLE_ATTRIBUTE),
            )
        )
    ).all():
        attributes[aid][key] = value
    payloads = {}
    for a in activities:
        operator, route = tasks.get(a.id, (None, None))
        payloads[a.id] = build(
            a,
            tenants[a.tenant_id],
            commerces[a.id],
            operator,
            route,
            targets.get(a.id, []),
            attributes.get(a.id, {}),
            public_url,
        )
    return payloads


# The channels a field team works (a TASK); the others carry a MESSAGE.
_TASK_CHANNELS = (Channel.SALESMAN, Channel.CALLCENTER)


def synthetic_payload(tenant: Tenant, channel: str, public_url: str) -> dict[str, Any]:
    """A made-up activity for test deliveries (14.13, `reten dispatch test`): never stored."""
    now = utcnow()
    activity = Activity(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        type=(ActivityType.TASK if channel in _TASK_CHANNELS else ActivityType.MESSAGE).value,
        channel=channel,
        status=ActivityStatus.READY.value,
        reason="test",
        scheduled_at=now,
        created_at=now,
    )
    commerce: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "externalId": "TEST-COMMERCE",
        "name": "Test commerce",
        "taxId": None,
        "primaryAddress": None,
        "metadata": {},
    }
    payload = build(activity, tenant, commerce, None, None, [], {}, public_url)
    payload["test"] = True
    return payload
