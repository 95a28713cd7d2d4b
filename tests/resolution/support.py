"""Helpers of the resolution tests: commerce users, contacts and addresses added as rows (the
commerces API is not what is under test), resolution records made by the engine itself, and an
API caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from reten.activities import service as activities
from reten.activities.models import Activity, ActivityType, Channel, CommerceAssignment
from reten.activity_config import service as activity_config
from reten.activity_config.criteria import CriteriaInput
from reten.activity_config.models import AttributeKey
from reten.activity_config.schemas import AttributePolicyUpsert, TargetResolutionConfigCreate
from reten.commerces.models import Address, CommerceUser, CommerceUserRoleLink, Contact
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.time import utcnow
from reten.resolution import service as resolution
from reten.resolution.models import ActivityAttribute, ActivityTargetUser
from reten.resolution.schemas import AttributeInput
from tests.factories import Factory, World, unique

# A fixed past instant: users get created_at = BASE + n minutes, so "earliest created" is exact.
BASE = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


async def add_user(
    db: Database,
    world: World,
    roles: list[str],
    *,
    commerce_index: int = 0,
    minute: int = 0,
    active: bool = True,
    name: str = "Maria Garcia",
) -> uuid.UUID:
    first, _, last = name.partition(" ")
    async with db.sessionmaker() as session:
        user = CommerceUser(
            id=uuid.uuid4(),
            tenant_id=world.tenant_id,
            commerce_id=world.commerce_ids[commerce_index],
            external_id=f"u-{uuid.uuid4().hex[:8]}",
            first_name=first,
            last_name=last or None,
            is_active=active,
            created_at=BASE + timedelta(minutes=minute),
        )
        session.add(user)
        await session.flush()
        for role in roles:
            session.add(
                CommerceUserRoleLink(
                    id=uuid.uuid4(), tenant_id=world.tenant_id, commerce_user_id=user.id, role=role
                )
            )
        await session.commit()
        return user.id


async def add_contact(
    db: Database,
    world: World,
    user_id: uuid.UUID,
    type_: str,
    value: str,
    *,
    primary: bool = True,
    active: bool = True,
    minute: int = 0,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        contact = Contact(
            id=uuid.uuid4(),
            tenant_id=world.tenant_id,
            commerce_user_id=user_id,
            type=type_,
            value=value,
            is_primary=primary,
            is_active=active,
            created_at=BASE + timedelta(minutes=minute),
        )
        session.add(contact)
        await session.commit()
        return contact.id


async def add_address(
    db: Database,
    world: World,
    formatted: str | None,
    *,
    primary: bool = True,
    active: bool = True,
    commerce_index: int = 0,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        address = Address(
            id=uuid.uuid4(),
            tenant_id=world.tenant_id,
            commerce_id=world.commerce_ids[commerce_index],
            street="Main St",
            formatted_address=formatted,
            is_primary=primary,
            is_active=active,
        )
        session.add(address)
        await session.commit()
        return address.id


def request(
    *,
    criteria: list[dict[str, Any]] | None = None,
    keys: list[str] | None = None,
    attributes: list[dict[str, Any]] | None = None,
) -> resolution.ResolutionRequest:
    return resolution.ResolutionRequest(
        target_criteria=(
            [CriteriaInput.model_validate(c) for c in criteria] if criteria is not None else None
        ),
        attribute_keys=keys or [],
        attributes=[AttributeInput.model_validate(a) for a in attributes or []],
    )


async def resolve_new(
    db: Database, world: World, activity_id: uuid.UUID, req: resolution.ResolutionRequest
) -> str | None:
    """Run resolve_on_creation on an activity made by Factory.task, and commit."""
    async with db.sessionmaker() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        assignment = await session.get(CommerceAssignment, activity_id)
        assert assignment is not None
        detail = await resolution.resolve_on_creation(
            session, activity, assignment.commerce_id, req
        )
        await session.commit()
        return detail


async def new_activity(
    factory: Factory,
    world: World,
    req: resolution.ResolutionRequest,
    *,
    channel: Channel = Channel.SALESMAN,
    commerce_index: int = 0,
) -> tuple[uuid.UUID, str | None]:
    """Create a TASK through activities.service.create_activity with `req`, the way the API
    does; return its id and what resolve_on_creation reported (the UNRESOLVED detail) or None."""
    async with factory.db.sessionmaker() as session:
        activity = await activities.create_activity(
            session,
            world.tenant_id,
            activities.ActivityInput(
                type=ActivityType.TASK,
                channel=channel,
                reason="retention",
                commerce_id=world.commerce_ids[commerce_index],
                idempotency_key=unique("idem"),
                scheduled_at=utcnow() + timedelta(days=1),
                assigned_route_id=world.route_id,
                assigned_operator_id=world.operator_id,
            ),
            Actor.system(),
            req,
        )
        if activity.status == "UNRESOLVED":
            assert activity.lifecycle_detail is not None
            return activity.id, activity.lifecycle_detail
        assert activity.status == "READY" and activity.lifecycle_detail is None
        return activity.id, None


async def set_dispatched(db: Database, activity_id: uuid.UUID, at: datetime) -> None:
    async with db.sessionmaker() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        activity.dispatched_at = at
        await session.commit()


@dataclass
class Caller:
    client: httpx.AsyncClient
    world: World
    headers: dict[str, str]

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)


async def admin(client: httpx.AsyncClient, factory: Factory, *, commerces: int = 2) -> Caller:
    world = await factory.world(commerces_count=commerces)
    token = await factory.login(world.admin_email)
    return Caller(
        client,
        world,
        {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)},
    )


async def member(client: httpx.AsyncClient, factory: Factory, world: World, role: str) -> Caller:
    _, email = await factory.user(world, [role])
    token = await factory.login(email)
    return Caller(
        client,
        world,
        {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)},
    )


async def add_config(
    db: Database,
    world: World,
    *,
    strategy: str = "ON_CREATION",
    priority: int = 0,
    criteria: list[dict[str, Any]] | None = None,
    rep: bool = True,
    owner: bool = True,
    active: bool = True,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        item = await activity_config.create_target_config(
            session,
            world.tenant_id,
            TargetResolutionConfigCreate.model_validate(
                {
                    "resolution_strategy": strategy,
                    "priority": priority,
                    "criteria": criteria or [],
                    "fallback_to_commerce_rep": rep,
                    "fallback_to_owner": owner,
                    "is_active": active,
                }
            ),
            actor=Actor.system(),
        )
        return item.config.id


async def set_policy(db: Database, world: World, key: str, strategy: str, resolver: str) -> None:
    async with db.sessionmaker() as session:
        key_id = (
            await session.execute(select(AttributeKey.id).where(AttributeKey.key == key))
        ).scalar_one()
        await activity_config.upsert_policy(
            session,
            world.tenant_id,
            AttributePolicyUpsert.model_validate(
                {"attribute_key_id": key_id, "strategy": strategy, "resolver_type": resolver}
            ),
            actor=Actor.system(),
        )


async def target_of(
    db: Database, world: World, activity_id: uuid.UUID
) -> ActivityTargetUser | None:
    async with db.sessionmaker() as session:
        views = await resolution.target_users(session, world.tenant_id, activity_id)
    assert len(views) <= 1
    return views[0].target if views else None


async def attributes_of(
    db: Database, world: World, activity_id: uuid.UUID
) -> dict[str, ActivityAttribute]:
    async with db.sessionmaker() as session:
        rows = await resolution.attributes(session, world.tenant_id, activity_id)
    return {key.key: record for record, key in rows}
