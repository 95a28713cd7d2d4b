"""Builders of test data through the real services (no shortcuts around the domain rules)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from reten.activities import service as activities
from reten.activities.lifecycle import ResultStatus
from reten.activities.models import ActivityType, Channel
from reten.activity_config import service as activity_config
from reten.activity_config.schemas import TaskResultTypeCreate
from reten.api_keys import service as api_keys
from reten.auth.permissions import Permission, Role, permissions_for_roles
from reten.commerces import service as commerces
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.time import utcnow
from reten.operators import service as operators
from reten.results.service import ResultSubmission
from reten.routes import service as routes
from reten.tenants import service as tenants
from reten.tenants.schemas import TenantSetup
from reten.users import service as users

PASSWORD = "correct-horse-battery"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    """One tenant with an admin, result types, a route with an operator, and commerces."""

    tenant_id: uuid.UUID
    slug: str
    admin_id: uuid.UUID
    admin_email: str
    route_id: uuid.UUID
    operator_id: uuid.UUID
    operator_external_id: str
    commerce_ids: list[uuid.UUID] = field(default_factory=list)
    commerce_external_ids: list[str] = field(default_factory=list)


# Makes objects of one tenant for the route-table isolation test; returns the value of each path
# parameter, plus "_body": a valid request body for routes that take one.
Maker = Callable[["Factory", World], Awaitable[dict[str, Any]]]


class Factory:
    def __init__(self, db: Database, client: httpx.AsyncClient) -> None:
        self.db = db
        self.client = client

    async def world(self, *, commerces_count: int = 2, locale: str = "es") -> World:
        slug = unique("t")
        email = f"{unique('admin')}@example.com"
        async with self.db.sessionmaker() as session:
            tenant = await tenants.setup_tenant(
                session,
                TenantSetup(
                    name=f"Tenant {slug}",
                    slug=slug,
                    locale=locale,
                    admin_email=email,
                    admin_password=PASSWORD,
                    admin_first_name="Ada",
                    admin_last_name="Admin",
                ),
                actor=Actor.system(),
            )
            admin = await users.get_by_email(session, email)
            assert admin is not None
            tid = tenant.id
            for code, label, future, order in (
                ("SALE_COMPLETED", "Venta completada", False, 10),
                ("NOT_INTERESTED", "No interesado", False, 20),
                ("RESCHEDULE", "Reprogramar visita", True, 30),
                ("NO_CONTACT", "Sin contacto", False, 40),
            ):
                await activity_config.create_type(
                    session,
                    tid,
                    TaskResultTypeCreate(
                        code=code,
                        label=label,
                        requires_future_scheduled_at=future,
                        sort_order=order,
                    ),
                    actor=Actor.system(),
                )
            route = await routes.create_route(session, tid, external_id="R-1", name="Ruta Norte")
            op = await operators.create_operator(
                session, tid, external_id="OP-17", name="Juan Pérez"
            )
            await routes.assign_operator(session, tid, route.id, op.id)
            world = World(tid, slug, admin.id, email, route.id, op.id, "OP-17")
            for i in range(commerces_count):
                ext = f"COM-{i + 1:03d}"
                c = await commerces.create_commerce(
                    session, tid, external_id=ext, name=f"Almacén {i + 1}"
                )
                world.commerce_ids.append(c.id)
                world.commerce_external_ids.append(ext)
            await session.commit()
        return world

    async def task(
        self,
        world: World,
        *,
        commerce_index: int = 0,
        scheduled_at: datetime | None = None,
        channel: Channel = Channel.SALESMAN,
        type: ActivityType = ActivityType.TASK,
    ) -> uuid.UUID:
        async with self.db.sessionmaker() as session:
            activity = await activities.create_activity(
                session,
                world.tenant_id,
                activities.ActivityInput(
                    type=type,
                    channel=channel,
                    reason="retention",
                    commerce_id=world.commerce_ids[commerce_index],
                    idempotency_key=unique("idem"),
                    scheduled_at=scheduled_at or utcnow() + timedelta(days=1),
                    score=80,
                    assigned_route_id=world.route_id if type == ActivityType.TASK else None,
                    assigned_operator_id=world.operator_id if type == ActivityType.TASK else None,
                ),
                Actor.system(),
            )
            return activity.id

    async def api_key(
        self,
        world: World,
        permissions: list[Permission] | None = None,
        *,
        expires_at: datetime | None = None,
        owner_id: uuid.UUID | None = None,
        owner_roles: list[str] | None = None,
    ) -> str:
        perms = permissions or [Permission.VIEW_ACTIVITIES, Permission.SUBMIT_ACTIVITY_RESULT]
        async with self.db.sessionmaker() as session:
            _, plaintext = await api_keys.create_key(
                session,
                tenant_id=world.tenant_id,
                owner_id=owner_id or world.admin_id,
                owner_permissions=permissions_for_roles(owner_roles or [Role.ADMIN.value]),
                name=unique("key"),
                permissions=[p.value for p in perms],
                expires_at=expires_at,
                actor=Actor.system(),
            )
        return plaintext

    async def user(
        self, world: World | None, roles: list[str], *, email: str | None = None
    ) -> tuple[uuid.UUID, str]:
        email = email or f"{unique('user')}@example.com"
        async with self.db.sessionmaker() as session:
            user = await users.create_user(
                session,
                email=email,
                password=PASSWORD,
                first_name="Test",
                last_name="User",
                roles=roles,
            )
            if world is not None:
                await users.add_membership(session, user.id, world.tenant_id)
            await session.commit()
            return user.id, email

    async def login(self, email: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/api/auth/login", json={"identifier": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["accessToken"])


def result_body(world: World, activity_id: uuid.UUID | None, /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "activity_id": str(activity_id) if activity_id else None,
        "commerce_external_id": world.commerce_external_ids[0],
        "occurred_at": (utcnow() - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "status": "EFFECTIVE",
        "task_result": {
            "result": "SALE_COMPLETED",
            "comment": "ok",
            "operator_external_id": "OP-17",
        },
    }
    if activity_id is None:
        body.pop("activity_id")
    body.update(overrides)
    return body


def result_submission(world: World, activity_id: uuid.UUID, **overrides: Any) -> ResultSubmission:
    """A final COMPLETED result for `activity_id` in the service's own vocabulary."""
    values: dict[str, Any] = {
        "activity_id": activity_id,
        "commerce_external_id": world.commerce_external_ids[0],
        "occurred_at": utcnow() - timedelta(minutes=5),
        "status": ResultStatus.COMPLETED,
        "result_code": "SALE_COMPLETED",
    }
    values.update(overrides)
    return ResultSubmission(**values)
