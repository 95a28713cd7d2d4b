"""The audit trail: every administrative change writes exactly one event with its actor and
target, a refused change writes none, the list is the tenant's own and filters, and no event
or response carries a secret."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from reten.api_keys.models import ApiKey
from reten.audit import service as audit
from reten.audit.models import AuditAction, AuditEvent, AuditTargetType
from reten.auth.permissions import Permission
from reten.kit.actor import Actor
from reten.kit.crypto import sha256_hex
from reten.kit.db import Database
from reten.kit.time import iso, utcnow
from reten.users.models import User
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import PASSWORD, Factory, World, unique

EVENTS = "/api/audit-events"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()


class Admin:
    """A tenant's ADMIN, signed in, and the tenant's events as stored."""

    def __init__(self, world: World, token: str, db: Database) -> None:
        self.world, self.token, self.db = world, token, db
        self.seen: set[uuid.UUID] = set()

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "x-tenant-id": str(self.world.tenant_id)}

    async def events(self) -> list[AuditEvent]:
        async with self.db.sessionmaker() as session:
            rows = await session.execute(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == self.world.tenant_id)
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
            return list(rows.scalars())

    async def mark(self) -> None:
        """Forget the events so far (the setup's own)."""
        self.seen = {e.id for e in await self.events()}

    async def new_events(self) -> list[AuditEvent]:
        fresh = [e for e in await self.events() if e.id not in self.seen]
        self.seen |= {e.id for e in fresh}
        return fresh

    async def one_new(self, action: AuditAction) -> AuditEvent:
        fresh = await self.new_events()
        assert [e.action for e in fresh] == [action.value]
        return fresh[0]


async def admin_of(factory: Factory, db: Database, world: World | None = None) -> Admin:
    world = world or await factory.world()
    admin = Admin(world, await factory.login(world.admin_email), db)
    await admin.mark()
    return admin


async def super_admin(factory: Factory) -> tuple[uuid.UUID, str, str]:
    user_id, email = await factory.user(None, ["SUPER_ADMIN"])
    return user_id, email, await factory.login(email)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def webhook_provider(client: httpx.AsyncClient, admin: Admin) -> str:
    response = await client.get("/api/dispatch-providers", headers=admin.headers)
    return str(next(p["id"] for p in response.json() if p["code"] == "WEBHOOK"))


async def create_webhook(
    client: httpx.AsyncClient, admin: Admin, *, bearer_token: str = "tok-1", channel: str = "SMS"
) -> dict[str, Any]:
    response = await client.post(
        "/api/dispatch-configs",
        headers=admin.headers,
        json={
            "dispatch_provider_id": await webhook_provider(client, admin),
            "channel": channel,
            "base_url": "https://hooks.example.com/reten",
            "credentials": {"bearerToken": bearer_token},
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_user_actor(event: AuditEvent, world: World) -> None:
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "USER",
        world.admin_id,
        world.admin_email,
    )


class TestApiKeyEvents:
    async def test_creating_and_revoking_a_key_write_one_event_each(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        created = await client.post(
            "/api/api-keys",
            headers=admin.headers,
            json={"name": "CI key", "permissions": ["VIEW_ACTIVITIES"]},
        )
        assert created.status_code == 201, created.text
        key_id = uuid.UUID(created.json()["id"])
        event = await admin.one_new(AuditAction.API_KEY_CREATED)
        assert_user_actor(event, admin.world)
        assert (event.target_type, event.target_id, event.target_label) == (
            "api_key",
            key_id,
            "CI key",
        )
        assert event.details["permissions"] == ["VIEW_ACTIVITIES"]
        assert event.tenant_id == admin.world.tenant_id

        revoked = await client.post(f"/api/api-keys/{key_id}/revoke", headers=admin.headers)
        assert revoked.status_code == 200, revoked.text
        event = await admin.one_new(AuditAction.API_KEY_REVOKED)
        assert event.target_id == key_id and event.details["revokedAt"] is not None

    async def test_refused_key_changes_write_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        bad = await client.post(
            "/api/api-keys", headers=admin.headers, json={"name": "x", "permissions": ["NOPE"]}
        )
        assert bad.status_code == 400
        ok = await client.post(
            "/api/api-keys",
            headers=admin.headers,
            json={"name": "x", "permissions": ["VIEW_USERS"]},
        )
        key_id = ok.json()["id"]
        await client.post(f"/api/api-keys/{key_id}/revoke", headers=admin.headers)
        await admin.mark()
        again = await client.post(f"/api/api-keys/{key_id}/revoke", headers=admin.headers)
        assert again.status_code == 400
        assert await admin.new_events() == []


class TestDispatchConfigEvents:
    async def test_each_config_change_writes_one_event(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        cfg = await create_webhook(client, admin)
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_CREATED)
        assert_user_actor(event, admin.world)
        assert (event.target_type, str(event.target_id), event.target_label) == (
            "dispatch_config",
            cfg["id"],
            "SMS",
        )
        assert event.details["credentialKeys"] == ["bearerToken"]
        assert event.details["providerCode"] == "WEBHOOK"
        path = f"/api/dispatch-configs/{cfg['id']}"

        patched = await client.patch(
            path, headers=admin.headers, json={"base_url": "https://new.example.com/h"}
        )
        assert patched.status_code == 200, patched.text
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_UPDATED)
        assert event.details["changes"] == {
            "baseUrl": {
                "from": "https://hooks.example.com/reten",
                "to": "https://new.example.com/h",
            }
        }

        patched = await client.patch(
            path, headers=admin.headers, json={"credentials": {"bearerToken": "tok-2"}}
        )
        assert patched.status_code == 200, patched.text
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_UPDATED)
        assert event.details == {"changes": {}, "credentialsReplaced": True}

        assert (await client.post(path + "/deactivate", headers=admin.headers)).status_code == 200
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_DEACTIVATED)
        assert event.details["changes"]["isActive"] == {"from": True, "to": False}
        assert event.details["changes"]["deactivatedReason"] == {"from": None, "to": "MANUAL"}

        assert (await client.post(path + "/activate", headers=admin.headers)).status_code == 200
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_ACTIVATED)
        assert event.details["changes"]["isActive"] == {"from": False, "to": True}

        rotated = await client.post(path + "/rotate-secret", headers=admin.headers)
        assert rotated.status_code == 200, rotated.text
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_SECRET_ROTATED)
        assert event.details == {
            "previousSecretExpiresAt": rotated.json()["previousSecretExpiresAt"]
        }

        # A PATCH that switches the config off is recorded as a deactivation.
        patched = await client.patch(path, headers=admin.headers, json={"is_active": False})
        assert patched.status_code == 200, patched.text
        await admin.one_new(AuditAction.DISPATCH_CONFIG_DEACTIVATED)

        assert (await client.delete(path, headers=admin.headers)).status_code == 204
        await admin.one_new(AuditAction.DISPATCH_CONFIG_DELETED)

    async def test_harmless_repeats_and_refused_changes_write_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        cfg = await create_webhook(client, admin)
        await admin.mark()
        path = f"/api/dispatch-configs/{cfg['id']}"
        # Activating an active config changes nothing.
        assert (await client.post(path + "/activate", headers=admin.headers)).status_code == 200
        # 409: a second active config for the channel (rule 1A).
        second = await client.post(
            "/api/dispatch-configs",
            headers=admin.headers,
            json={
                "dispatch_provider_id": await webhook_provider(client, admin),
                "channel": "SMS",
                "base_url": "https://other.example.com",
            },
        )
        assert second.status_code == 409, second.text
        # 400: validation.
        bad = await client.patch(path, headers=admin.headers, json={"base_url": "ftp://x"})
        assert bad.status_code == 400
        # 400: a MOCK config has no secret to rotate.
        mock = await client.get("/api/dispatch-providers", headers=admin.headers)
        mock_id = next(p["id"] for p in mock.json() if p["code"] == "MOCK")
        made = await client.post(
            "/api/dispatch-configs",
            headers=admin.headers,
            json={"dispatch_provider_id": mock_id, "channel": "EMAIL", "base_url": None},
        )
        assert made.status_code == 201, made.text
        await admin.mark()
        rotate = await client.post(
            f"/api/dispatch-configs/{made.json()['id']}/rotate-secret", headers=admin.headers
        )
        assert rotate.status_code == 400
        assert await admin.new_events() == []

    async def test_an_api_key_actor_is_recorded_as_the_key(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        plaintext = await factory.api_key(admin.world, [Permission.MANAGE_ACTIVITY_CONFIG])
        async with db.sessionmaker() as session:
            key = (
                await session.execute(
                    select(ApiKey).where(ApiKey.key_hash == sha256_hex(plaintext))
                )
            ).scalar_one()
        await admin.mark()
        response = await client.post(
            "/api/activity-config/task-result-types",
            headers={"x-api-key": plaintext},
            json={"code": "BY_KEY", "label": "Por llave"},
        )
        assert response.status_code == 201, response.text
        event = await admin.one_new(AuditAction.TASK_RESULT_TYPE_CREATED)
        assert (event.actor_type, event.actor_id, event.actor_label) == (
            "API_KEY",
            key.id,
            key.name,
        )


class TestSystemDeactivations:
    async def test_a_410_is_recorded_as_a_system_deactivation(
        self,
        app: Any,
        client: httpx.AsyncClient,
        factory: Factory,
        db: Database,
        receiver: Receiver,
    ) -> None:
        t, cfg = await support.setup(factory, client, receiver)
        admin = await admin_of(factory, db, t.world)
        receiver.answer(Reply(410, b"gone"))
        await factory.task(t.world)
        await factory.task(t.world, commerce_index=1)
        await support.dispatcher(app, t).drain()
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_DEACTIVATED)
        assert (event.actor_type, event.actor_id, event.actor_label) == ("SYSTEM", None, None)
        assert str(event.target_id) == cfg["id"]
        assert event.details["changes"]["deactivatedReason"] == {"from": None, "to": "HTTP_410"}

    async def test_the_circuit_breaker_is_recorded_as_a_system_deactivation(
        self,
        app: Any,
        client: httpx.AsyncClient,
        factory: Factory,
        db: Database,
        receiver: Receiver,
    ) -> None:
        t, cfg = await support.setup(
            factory, client, receiver, retry_schedule=[0], disable_after_consecutive_failures=1
        )
        admin = await admin_of(factory, db, t.world)
        receiver.answer(Reply(500, b"down"))
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        event = await admin.one_new(AuditAction.DISPATCH_CONFIG_DEACTIVATED)
        assert event.actor_type == "SYSTEM" and str(event.target_id) == cfg["id"]
        assert event.details["changes"]["deactivatedReason"]["to"] == "CONSECUTIVE_FAILURES"


class TestActivityConfigEvents:
    async def test_result_type_changes_write_one_event_each(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        base = "/api/activity-config/task-result-types"
        made = await client.post(
            base, headers=admin.headers, json={"code": "NEW", "label": "Nuevo"}
        )
        assert made.status_code == 201, made.text
        type_id = made.json()["id"]
        event = await admin.one_new(AuditAction.TASK_RESULT_TYPE_CREATED)
        assert (event.target_type, str(event.target_id), event.target_label) == (
            "task_result_type",
            type_id,
            "NEW",
        )
        changed = await client.patch(
            f"{base}/{type_id}", headers=admin.headers, json={"label": "N"}
        )
        assert changed.status_code == 200
        event = await admin.one_new(AuditAction.TASK_RESULT_TYPE_UPDATED)
        assert event.details["changes"] == {"label": {"from": "Nuevo", "to": "N"}}
        duplicate = await client.post(
            base, headers=admin.headers, json={"code": "NEW", "label": "x"}
        )
        assert duplicate.status_code == 409
        assert await admin.new_events() == []
        assert (await client.delete(f"{base}/{type_id}", headers=admin.headers)).status_code == 204
        await admin.one_new(AuditAction.TASK_RESULT_TYPE_DELETED)

    async def test_a_used_result_type_is_recorded_as_deactivated(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        key = await factory.api_key(admin.world)
        activity_id = await factory.task(admin.world)
        from tests.factories import result_body

        submitted = await client.post(
            "/api/integration/activity-results/tasks",
            headers={"x-api-key": key},
            json=result_body(admin.world, activity_id),
        )
        assert submitted.status_code == 201, submitted.text
        types = await client.get("/api/activity-config/task-result-types", headers=admin.headers)
        used = next(t for t in types.json() if t["code"] == "SALE_COMPLETED")
        await admin.mark()
        response = await client.delete(
            f"/api/activity-config/task-result-types/{used['id']}", headers=admin.headers
        )
        assert response.status_code == 200, response.text
        event = await admin.one_new(AuditAction.TASK_RESULT_TYPE_DEACTIVATED)
        assert event.details["changes"] == {"isActive": {"from": True, "to": False}}

    async def test_policies_and_target_resolution_configs_are_recorded(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        keys = await client.get("/api/activity-config/attribute-keys", headers=admin.headers)
        key = keys.json()[0]
        body = {
            "attribute_key_id": key["id"],
            "strategy": "UPFRONT",
            "resolver_type": "INTERNAL_SERVICE",
        }
        policies = "/api/activity-config/attribute-policies"
        assert (await client.post(policies, headers=admin.headers, json=body)).status_code == 200
        event = await admin.one_new(AuditAction.ATTRIBUTE_POLICY_CREATED)
        assert event.details["attributeKey"] == key["key"]
        body["strategy"] = "ON_DISPATCH"
        assert (await client.post(policies, headers=admin.headers, json=body)).status_code == 200
        event = await admin.one_new(AuditAction.ATTRIBUTE_POLICY_UPDATED)
        assert event.details["changes"] == {
            "resolutionStrategy": {"from": "UPFRONT", "to": "ON_DISPATCH"}
        }

        configs = "/api/activity-config/target-resolution"
        made = await client.post(
            configs,
            headers=admin.headers,
            json={"resolution_strategy": "ON_CREATION", "priority": 3,
                  "criteria": [{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        event = await admin.one_new(AuditAction.TARGET_RESOLUTION_CONFIG_CREATED)
        assert event.details["criteria"][0]["criteriaType"] == "ROLE_MATCH"
        config_id = made.json()["id"]
        clash = await client.post(
            configs, headers=admin.headers, json={"resolution_strategy": "MANUAL", "priority": 3}
        )
        assert clash.status_code == 409, clash.text
        assert await admin.new_events() == []
        changed = await client.patch(
            f"{configs}/{config_id}", headers=admin.headers, json={"priority": 4}
        )
        assert changed.status_code == 200, changed.text
        event = await admin.one_new(AuditAction.TARGET_RESOLUTION_CONFIG_UPDATED)
        assert event.details["changes"] == {"priority": {"from": 3, "to": 4}}
        deleted = await client.delete(f"{configs}/{config_id}", headers=admin.headers)
        assert deleted.status_code == 204
        await admin.one_new(AuditAction.TARGET_RESOLUTION_CONFIG_DELETED)


class TestUserEvents:
    async def test_each_user_change_writes_one_event(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        email = f"{unique('fde')}@example.com"
        body = {"email": email, "password": PASSWORD, "first_name": "F", "last_name": "D",
                "roles": ["FDE"]}  # fmt: skip
        made = await client.post("/api/user", headers=admin.headers, json=body)
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        event = await admin.one_new(AuditAction.USER_CREATED)
        assert_user_actor(event, admin.world)
        assert (event.target_type, str(event.target_id), event.target_label) == (
            "user",
            user_id,
            email,
        )
        assert event.details["roles"] == ["FDE"]

        duplicate = await client.post("/api/user", headers=admin.headers, json=body)
        assert duplicate.status_code == 409
        assert await admin.new_events() == []

        roles = await client.put(
            f"/api/user/{user_id}/roles", headers=admin.headers, json={"roles": ["VIEWER"]}
        )
        assert roles.status_code == 200, roles.text
        event = await admin.one_new(AuditAction.USER_ROLES_CHANGED)
        assert event.details["changes"] == {"roles": {"from": ["FDE"], "to": ["VIEWER"]}}

        renamed = await client.patch(
            f"/api/user/{user_id}", headers=admin.headers, json={"first_name": "Fe"}
        )
        assert renamed.status_code == 200
        await admin.one_new(AuditAction.USER_UPDATED)

        reset = await client.post(
            "/api/auth/reset-user-password",
            headers=admin.headers,
            json={"user_id": user_id, "new_password": "another-password-1"},
        )
        assert reset.status_code == 200, reset.text
        event = await admin.one_new(AuditAction.USER_PASSWORD_RESET)
        assert event.details == {} and str(event.target_id) == user_id

        off = await client.patch(
            f"/api/user/{user_id}", headers=admin.headers, json={"is_active": False}
        )
        assert off.status_code == 200
        await admin.one_new(AuditAction.USER_DEACTIVATED)
        on = await client.patch(
            f"/api/user/{user_id}", headers=admin.headers, json={"is_active": True}
        )
        assert on.status_code == 200
        await admin.one_new(AuditAction.USER_REACTIVATED)

    async def test_refused_user_changes_write_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        peer_id, _ = await factory.user(admin.world, ["ADMIN"])
        await admin.mark()
        # Rule H: an ADMIN cannot act on another ADMIN.
        reset = await client.post(
            "/api/auth/reset-user-password",
            headers=admin.headers,
            json={"user_id": str(peer_id), "new_password": "another-password-1"},
        )
        assert reset.status_code == 403
        # Rule G: an ADMIN cannot grant ADMIN.
        grant = await client.post(
            "/api/user",
            headers=admin.headers,
            json={"email": f"{unique('u')}@example.com", "password": PASSWORD,
                  "first_name": "A", "last_name": "B", "roles": ["ADMIN"]},
        )  # fmt: skip
        assert grant.status_code == 403
        assert await admin.new_events() == []

    async def test_deleting_a_user_and_changing_ones_own_password_are_recorded(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        other = await admin_of(factory, db)
        sa_id, sa_email, sa_token = await super_admin(factory)
        victim_id, victim_email = await factory.user(admin.world, ["VIEWER"])
        await admin.mark()
        deleted = await client.delete(
            f"/api/user/{victim_id}",
            headers={**bearer(sa_token), "x-tenant-id": str(admin.world.tenant_id)},
        )
        assert deleted.status_code == 204, deleted.text
        event = await admin.one_new(AuditAction.USER_DELETED)
        assert (event.actor_type, event.actor_id, event.actor_label) == ("USER", sa_id, sa_email)
        assert (event.target_id, event.target_label) == (victim_id, victim_email)

        # A user in two tenants: each tenant's trail shows the change.
        member_id, member_email = await factory.user(admin.world, ["VIEWER"])
        async with db.sessionmaker() as session:
            from reten.users import service as users

            await users.add_membership(session, member_id, other.world.tenant_id)
            await session.commit()
        await admin.mark()
        await other.mark()
        token = await factory.login(member_email)
        wrong = await client.post(
            "/api/auth/reset-my-password",
            headers=bearer(token),
            json={"current_password": "not-the-password", "new_password": "brand-new-pass-1"},
        )
        assert wrong.status_code == 400
        assert await admin.new_events() == [] and await other.new_events() == []
        changed = await client.post(
            "/api/auth/reset-my-password",
            headers=bearer(token),
            json={"current_password": PASSWORD, "new_password": "brand-new-pass-1"},
        )
        assert changed.status_code == 200, changed.text
        for trail in (admin, other):
            event = await trail.one_new(AuditAction.USER_PASSWORD_CHANGED)
            assert (event.actor_id, event.target_id) == (member_id, member_id)


class TestTenantEvents:
    async def test_setting_up_and_updating_a_tenant_are_recorded_in_that_tenant(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        sa_id, sa_email, sa_token = await super_admin(factory)
        slug = unique("acme")
        body = {"name": "Acme", "slug": slug, "admin_email": f"{unique('a')}@example.com",
                "admin_password": PASSWORD, "admin_first_name": "A", "admin_last_name": "B"}  # fmt: skip
        made = await client.post("/api/tenant/setup", headers=bearer(sa_token), json=body)
        assert made.status_code == 201, made.text
        tenant_id = uuid.UUID(made.json()["id"])
        taken = await client.post("/api/tenant/setup", headers=bearer(sa_token), json=body)
        assert taken.status_code == 409
        async with db.sessionmaker() as session:
            rows = list(
                (
                    await session.execute(
                        select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
                    )
                ).scalars()
            )
        assert [e.action for e in rows] == ["tenant.created"]
        [event] = rows
        assert (event.actor_type, event.actor_id, event.actor_label) == ("USER", sa_id, sa_email)
        assert (event.target_type, event.target_id, event.target_label) == (
            "tenant",
            tenant_id,
            slug,
        )
        assert event.details["adminEmail"] == body["admin_email"]
        assert event.details["adminCreated"] is True

        patched = await client.patch(
            f"/api/tenant/{tenant_id}", headers=bearer(sa_token), json={"name": "Acme Corp"}
        )
        assert patched.status_code == 200, patched.text
        async with db.sessionmaker() as session:
            actions = (
                await session.execute(
                    select(AuditEvent.action, AuditEvent.details)
                    .where(AuditEvent.tenant_id == tenant_id)
                    .order_by(AuditEvent.occurred_at)
                )
            ).all()
        assert [a for a, _ in actions] == ["tenant.created", "tenant.updated"]
        assert actions[1][1]["changes"] == {"name": {"from": "Acme", "to": "Acme Corp"}}


class TestAuditEventList:
    async def test_the_list_is_newest_first_in_the_page_envelope(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        for name in ("a", "b", "c"):
            await client.post(
                "/api/api-keys",
                headers=admin.headers,
                json={"name": name, "permissions": ["VIEW_ACTIVITIES"]},
            )
        response = await client.get(
            EVENTS, headers=admin.headers, params={"action": "api_key.created", "per_page": 2}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
        assert [e["target"]["label"] for e in body["data"]] == ["c", "b"]
        first = body["data"][0]
        assert set(first) == {
            "id",
            "tenantId",
            "action",
            "actor",
            "target",
            "occurredAt",
            "details",
        }
        assert first["actor"] == {
            "type": "USER",
            "id": str(admin.world.admin_id),
            "label": admin.world.admin_email,
        }
        assert first["occurredAt"].endswith("Z") and len(first["occurredAt"]) == 24
        page2 = await client.get(
            EVENTS,
            headers=admin.headers,
            params={"action": "api_key.created", "per_page": 2, "page": 2},
        )
        assert [e["target"]["label"] for e in page2.json()["data"]] == ["a"]

    async def test_another_tenants_events_are_never_listed(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        mine, theirs = await admin_of(factory, db), await admin_of(factory, db)
        made = await client.post(
            "/api/api-keys",
            headers=theirs.headers,
            json={"name": "theirs", "permissions": ["VIEW_ACTIVITIES"]},
        )
        their_key = made.json()["id"]
        response = await client.get(EVENTS, headers=mine.headers, params={"per_page": 100})
        assert response.status_code == 200
        assert {e["tenantId"] for e in response.json()["data"]} == {str(mine.world.tenant_id)}
        assert their_key not in response.text and str(theirs.world.tenant_id) not in response.text
        # Filtering by the other tenant's object finds nothing rather than an error.
        by_target = await client.get(EVENTS, headers=mine.headers, params={"target_id": their_key})
        assert by_target.status_code == 200 and by_target.json()["data"] == []

    async def test_filters_by_action_actor_target_and_time(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        start = utcnow() - timedelta(milliseconds=1)
        cfg = await create_webhook(client, admin)
        await client.post(f"/api/dispatch-configs/{cfg['id']}/deactivate", headers=admin.headers)
        await client.post(
            "/api/api-keys",
            headers=admin.headers,
            json={"name": "k", "permissions": ["VIEW_USERS"]},
        )

        async def actions(**params: str) -> list[str]:
            response = await client.get(EVENTS, headers=admin.headers, params=params)
            assert response.status_code == 200, response.text
            return [e["action"] for e in response.json()["data"]]

        assert await actions(target_type="dispatch_config") == [
            "dispatch_config.deactivated",
            "dispatch_config.created",
        ]
        assert await actions(target_id=cfg["id"], action="dispatch_config.created") == [
            "dispatch_config.created"
        ]
        recent = await actions(occurred_from=iso(start) or "")
        assert recent == [
            "api_key.created",
            "dispatch_config.deactivated",
            "dispatch_config.created",
        ]
        assert await actions(occurred_to=iso(start) or "", action="api_key.created") == []
        mine = await actions(actor_type="USER", actor_id=str(admin.world.admin_id))
        assert mine == recent
        # The world's setup was done by the system.
        system = await actions(actor_type="SYSTEM")
        assert "tenant.created" in system and "api_key.created" not in system
        assert await actions(actor_id=str(uuid.uuid4())) == []

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("action", "api_key.exploded"),
            ("actor_type", "user"),
            ("actor_id", "not-a-uuid"),
            ("target_type", "API_KEY"),
            ("target_id", "123"),
            ("occurred_from", "2026-01-01T00:00:00"),
            ("per_page", "101"),
        ],
    )
    async def test_bad_filters_are_400_naming_the_parameter(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, param: str, value: str
    ) -> None:
        admin = await admin_of(factory, db)
        response = await client.get(EVENTS, headers=admin.headers, params={param: value})
        assert response.status_code == 400, response.text
        assert response.json()["details"][0]["field"] == param

    async def test_a_reversed_time_range_is_400(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        response = await client.get(
            EVENTS,
            headers=admin.headers,
            params={"occurred_from": "2026-02-01T00:00:00Z", "occurred_to": "2026-01-01T00:00:00Z"},
        )
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "occurred_to"

    async def test_only_admins_read_the_trail(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        _, fde_email = await factory.user(admin.world, ["FDE"])
        fde = {**bearer(await factory.login(fde_email)), "x-tenant-id": str(admin.world.tenant_id)}
        denied = await client.get(EVENTS, headers=fde)
        assert denied.status_code == 403
        assert denied.json()["message"] == "Insufficient permissions: requires VIEW_AUDIT_LOG"
        # An ADMIN's API key given the permission may read it (a SIEM pulling the trail).
        key = await factory.api_key(admin.world, [Permission.VIEW_AUDIT_LOG])
        allowed = await client.get(EVENTS, headers={"x-api-key": key})
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["meta"]["total"] >= 1


class TestNoSecretInTheTrail:
    async def test_planted_secrets_appear_in_no_event_and_no_response(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        admin = await admin_of(factory, db)
        planted: list[str] = []
        made = await client.post(
            "/api/api-keys",
            headers=admin.headers,
            json={"name": "planted", "permissions": ["VIEW_ACTIVITIES"]},
        )
        plaintext = made.json()["key"]
        planted += [plaintext, sha256_hex(plaintext)]
        await client.post(f"/api/api-keys/{made.json()['id']}/revoke", headers=admin.headers)

        bearer_token = f"bearer-{uuid.uuid4().hex}"
        cfg = await create_webhook(client, admin, bearer_token=bearer_token)
        planted += [bearer_token, cfg["signingSecret"]]
        new_token = f"bearer-{uuid.uuid4().hex}"
        await client.patch(
            f"/api/dispatch-configs/{cfg['id']}",
            headers=admin.headers,
            json={"credentials": {"bearerToken": new_token}},
        )
        planted.append(new_token)
        rotated = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/rotate-secret", headers=admin.headers
        )
        planted.append(rotated.json()["signingSecret"])

        user_password = f"pw-{uuid.uuid4().hex}"
        user = await client.post(
            "/api/user",
            headers=admin.headers,
            json={"email": f"{unique('s')}@example.com", "password": user_password,
                  "first_name": "S", "last_name": "T", "roles": ["VIEWER"]},
        )  # fmt: skip
        reset_password = f"pw-{uuid.uuid4().hex}"
        reset = await client.post(
            "/api/auth/reset-user-password",
            headers=admin.headers,
            json={"user_id": user.json()["id"], "new_password": reset_password},
        )
        assert reset.status_code == 200
        planted += [user_password, reset_password]

        async with db.sessionmaker() as session:
            stored_user = await session.get(User, uuid.UUID(user.json()["id"]))
            assert stored_user is not None
            planted.append(stored_user.password_hash)
            from reten.dispatch.models import DispatchConfig

            stored_cfg = await session.get(DispatchConfig, uuid.UUID(cfg["id"]))
            assert stored_cfg is not None
            planted += [
                v
                for v in (
                    stored_cfg.credentials_encrypted,
                    stored_cfg.signing_secret_encrypted,
                    stored_cfg.previous_secret_encrypted,
                )
                if v
            ]

        events = await admin.events()
        assert len({e.action for e in events}) >= 7
        stored = orjson.dumps(
            [
                {
                    "details": e.details,
                    "labels": [e.actor_label, e.target_label],
                }
                for e in events
            ]
        ).decode()
        listed = await client.get(EVENTS, headers=admin.headers, params={"per_page": 100})
        assert listed.status_code == 200
        for secret in planted:
            assert secret not in stored
            assert secret not in listed.text

    def test_recording_a_secret_looking_detail_is_refused(self) -> None:
        target = audit.Target(AuditTargetType.USER, uuid.uuid4(), "x@example.com")
        for details in (
            {"password": "x"},
            {"changes": {"signing_secret": {"from": None, "to": "whsec_x"}}},
            {"items": [{"bearerToken": "t"}]},
            {"key_hash": "abc"},
        ):
            with pytest.raises(audit.SecretInAuditDetails):
                audit.record(
                    None,  # type: ignore[arg-type]  # refused before the session is touched
                    uuid.uuid4(),
                    Actor.system(),
                    AuditAction.USER_UPDATED,
                    target,
                    details,
                )
