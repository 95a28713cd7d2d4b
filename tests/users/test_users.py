"""Users of a tenant: list, create, update, roles, delete; rules H and G; the last ADMIN."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from reten.api_keys.models import ApiKey
from reten.auth.permissions import Permission
from reten.users.models import Membership, User
from tests.factories import PASSWORD, Factory, World, unique


async def as_user(
    factory: Factory, world: World, roles: list[str]
) -> tuple[uuid.UUID, dict[str, str]]:
    user_id, email = await factory.user(world, roles)
    token = await factory.login(email)
    return user_id, {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}


async def as_admin(factory: Factory, world: World) -> dict[str, str]:
    token = await factory.login(world.admin_email)
    return {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}


def new_user(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": f"{unique('u')}@Example.com", "password": PASSWORD,
        "first_name": "Ana", "last_name": "Rojas", "roles": ["FDE"],
    }  # fmt: skip
    body.update(overrides)
    return body


class TestListUsers:
    async def test_members_only_with_filters_search_and_sort(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, other = await factory.world(), await factory.world()
        await factory.user(other, ["FDE"])
        fde_id, _ = await factory.user(world, ["FDE"], email=f"zz-{unique('f')}@example.com")
        viewer_id, _ = await factory.user(world, ["VIEWER"], email=f"aa-{unique('v')}@example.com")
        headers = await as_admin(factory, world)
        body = (await client.get("/api/user/tenant-users", headers=headers)).json()
        assert body["meta"]["total"] == 3 and body["meta"]["limit"] == 25
        emails = [u["email"] for u in body["data"]]
        assert emails == sorted(emails)
        desc = (
            await client.get("/api/user/tenant-users", params={"sort": "-email"}, headers=headers)
        ).json()
        assert [u["email"] for u in desc["data"]] == sorted(emails, reverse=True)
        by_role = (
            await client.get("/api/user/tenant-users", params={"role": "FDE"}, headers=headers)
        ).json()
        assert [u["id"] for u in by_role["data"]] == [str(fde_id)]
        admins = (
            await client.get("/api/user/tenant-users", params={"role": "ADMIN"}, headers=headers)
        ).json()
        assert [u["email"] for u in admins["data"]] == [world.admin_email]
        found = (
            await client.get("/api/user/tenant-users", params={"search": "AA-"}, headers=headers)
        ).json()
        assert [u["id"] for u in found["data"]] == [str(viewer_id)]
        item = found["data"][0]
        assert set(item) == {
            "id",
            "email",
            "firstName",
            "lastName",
            "roles",
            "isActive",
            "createdAt",
            "updatedAt",
        }

    @pytest.mark.parametrize(("params", "field"), [({"sort": "name"}, "sort"), ({"role": "BOSS"}, "role"),
                                                   ({"is_active": "yes"}, "is_active"), ({"per_page": 101}, "per_page")])  # fmt: skip
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, factory: Factory, params: dict[str, object], field: str
    ) -> None:
        world = await factory.world()
        response = await client.get(
            "/api/user/tenant-users", params=params, headers=await as_admin(factory, world)
        )
        assert response.status_code == 400 and response.json()["details"][0]["field"] == field

    async def test_viewer_cannot_list(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        _, headers = await as_user(factory, world, ["VIEWER"])
        response = await client.get("/api/user/tenant-users", headers=headers)
        assert (
            response.status_code == 403
            and response.json()["message"] == "Insufficient permissions: requires VIEW_USERS"
        )


class TestCreateUser:
    async def test_creates_an_active_member(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/user",
            headers=await as_admin(factory, world),
            json=new_user(roles=["VIEWER", "FDE"]),
        )
        assert response.status_code == 201
        body = response.json()
        assert body["roles"] == ["FDE", "VIEWER"] and body["isActive"] is True
        assert body["email"] == body["email"].lower()
        await factory.login(body["email"])  # can log in with the given password

    async def test_rule_g_admin_cannot_grant_admin(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/user", headers=await as_admin(factory, world), json=new_user(roles=["ADMIN"])
        )
        assert (
            response.status_code == 403 and response.json()["message"] == "Cannot grant role ADMIN"
        )

    async def test_super_admin_can_grant_admin(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        _, headers = await as_user(factory, world, ["SUPER_ADMIN"])
        response = await client.post("/api/user", headers=headers, json=new_user(roles=["ADMIN"]))
        assert response.status_code == 201

    async def test_known_email_is_409_even_from_another_tenant(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, other = await factory.world(), await factory.world()
        _, email = await factory.user(other, ["VIEWER"])
        response = await client.post(
            "/api/user", headers=await as_admin(factory, world), json=new_user(email=email.upper())
        )
        assert response.status_code == 409 and response.json()["message"] == "email already exists"

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"email": "nope"}, "email"), ({"password": "short"}, "password"), ({"roles": []}, "roles"),
         ({"roles": ["FDE", "FDE"]}, "roles"), ({"roles": ["BOSS"]}, "roles[0]"), ({"first_name": ""}, "first_name")],
    )  # fmt: skip
    async def test_invalid_body_is_400(
        self, client: httpx.AsyncClient, factory: Factory, change: dict[str, object], field: str
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/user", headers=await as_admin(factory, world), json=new_user(**change)
        )
        assert response.status_code == 400 and field in [
            d["field"] for d in response.json()["details"]
        ]

    async def test_camel_case_body(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        body = {
            "email": f"{unique('c')}@example.com",
            "password": PASSWORD,
            "firstName": "Eva",
            "lastName": "Luna",
            "roles": ["VIEWER"],
        }
        response = await client.post("/api/user", headers=await as_admin(factory, world), json=body)
        assert response.status_code == 201 and response.json()["firstName"] == "Eva"


class TestUpdateUser:
    async def test_names_and_deactivation(
        self, client: httpx.AsyncClient, factory: Factory, app: object
    ) -> None:
        world = await factory.world()
        fde_id, email = await factory.user(world, ["FDE"])
        key = await factory.api_key(
            world, [Permission.VIEW_ACTIVITIES], owner_id=fde_id, owner_roles=["FDE"]
        )
        headers = await as_admin(factory, world)
        response = await client.patch(
            f"/api/user/{fde_id}", headers=headers, json={"firstName": "Nuevo", "is_active": False}
        )
        assert response.status_code == 200
        assert response.json()["firstName"] == "Nuevo" and response.json()["isActive"] is False
        login = await client.post(
            "/api/auth/login", json={"identifier": email, "password": PASSWORD}
        )
        assert login.status_code == 401
        app.state.runtime.api_key_cache.clear()  # type: ignore[attr-defined]
        tasks = "/api/integration/activities/tasks"
        assert (await client.get(tasks, headers={"x-api-key": key})).status_code == 401
        await client.patch(f"/api/user/{fde_id}", headers=headers, json={"is_active": True})
        app.state.runtime.api_key_cache.clear()  # type: ignore[attr-defined]
        assert (
            await client.get(tasks, headers={"x-api-key": key})
        ).status_code == 200  # restored, not revoked

    @pytest.mark.parametrize(("body", "field"), [({"email": "x@y.zz"}, "email"), ({"roles": ["VIEWER"]}, "roles"),
                                                 ({"first_name": None}, "first_name"), ({"is_active": "no"}, "is_active")])  # fmt: skip
    async def test_immutable_and_null_fields_are_400(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, object], field: str
    ) -> None:
        world = await factory.world()
        fde_id, _ = await factory.user(world, ["FDE"])
        response = await client.patch(
            f"/api/user/{fde_id}", headers=await as_admin(factory, world), json=body
        )
        assert response.status_code == 400 and response.json()["details"][0]["field"] == field

    async def test_rule_h_peers_and_self_are_403(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        peer_id, _ = await factory.user(world, ["ADMIN"])
        headers = await as_admin(factory, world)
        for target in (peer_id, world.admin_id):
            response = await client.patch(
                f"/api/user/{target}", headers=headers, json={"first_name": "X"}
            )
            assert response.status_code == 403
            assert (
                response.json()["message"]
                == "Cannot modify a user at the same or a higher role level"
            )

    async def test_user_of_another_tenant_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, other = await factory.world(), await factory.world()
        stranger, _ = await factory.user(other, ["VIEWER"])
        response = await client.patch(
            f"/api/user/{stranger}", headers=await as_admin(factory, world), json={}
        )
        assert response.status_code == 404 and response.json()["message"] == "User not found"

    async def test_the_last_active_admin_cannot_be_deactivated(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        _, headers = await as_user(factory, world, ["SUPER_ADMIN"])
        response = await client.patch(
            f"/api/user/{world.admin_id}", headers=headers, json={"is_active": False}
        )
        assert (
            response.status_code == 400
            and "at least one active ADMIN" in response.json()["message"]
        )
        await factory.user(world, ["ADMIN"])
        assert (
            await client.patch(
                f"/api/user/{world.admin_id}", headers=headers, json={"is_active": False}
            )
        ).status_code == 200


class TestUserRoles:
    async def test_replace_roles(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        fde_id, _ = await factory.user(world, ["FDE"])
        response = await client.put(
            f"/api/user/{fde_id}/roles",
            headers=await as_admin(factory, world),
            json={"roles": ["VIEWER", "FDE"]},
        )
        assert response.status_code == 200 and response.json() == {
            "id": str(fde_id),
            "roles": ["FDE", "VIEWER"],
        }

    async def test_rules_h_and_g(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        fde_id, _ = await factory.user(world, ["FDE"])
        peer_id, _ = await factory.user(world, ["ADMIN"])
        headers = await as_admin(factory, world)
        grant = await client.put(
            f"/api/user/{fde_id}/roles", headers=headers, json={"roles": ["ADMIN"]}
        )
        assert grant.status_code == 403 and grant.json()["message"] == "Cannot grant role ADMIN"
        peer = await client.put(
            f"/api/user/{peer_id}/roles", headers=headers, json={"roles": ["VIEWER"]}
        )
        assert (
            peer.status_code == 403
            and peer.json()["message"]
            == "Cannot modify roles of a user at the same or a higher level"
        )

    async def test_demoting_the_last_admin_is_refused(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        _, headers = await as_user(factory, world, ["SUPER_ADMIN"])
        response = await client.put(
            f"/api/user/{world.admin_id}/roles", headers=headers, json={"roles": ["FDE"]}
        )
        assert response.status_code == 400


class TestDeleteUser:
    async def test_super_admin_deletes_a_user(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        fde_id, email = await factory.user(world, ["FDE"])
        await factory.api_key(
            world, [Permission.VIEW_ACTIVITIES], owner_id=fde_id, owner_roles=["FDE"]
        )
        _, headers = await as_user(factory, world, ["SUPER_ADMIN"])
        assert (await client.delete(f"/api/user/{fde_id}", headers=headers)).status_code == 204
        async with factory.db.sessionmaker() as session:
            assert await session.get(User, fde_id) is None
            assert (
                await session.execute(select(Membership).where(Membership.user_id == fde_id))
            ).first() is None
            keys = list(
                (await session.execute(select(ApiKey).where(ApiKey.user_id == fde_id))).scalars()
            )
        assert len(keys) == 1 and keys[0].revoked_at is not None  # kept, with its userId, revoked
        assert (await client.delete(f"/api/user/{fde_id}", headers=headers)).status_code == 404
        again = await client.post("/api/user", headers=headers, json=new_user(email=email))
        assert again.status_code == 201  # the email can be used again

    async def test_admin_lacks_delete_user(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        fde_id, _ = await factory.user(world, ["FDE"])
        response = await client.delete(
            f"/api/user/{fde_id}", headers=await as_admin(factory, world)
        )
        assert (
            response.status_code == 403
            and response.json()["message"] == "Insufficient permissions: requires DELETE_USER"
        )


class TestPasswordResets:
    async def test_admin_resets_a_lower_users_password(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        fde_id, email = await factory.user(world, ["FDE"])
        login = await client.post(
            "/api/auth/login", json={"identifier": email, "password": PASSWORD}
        )
        cookie = login.cookies["refreshToken"]
        headers = await as_admin(factory, world)
        body = {"user_id": str(fde_id), "new_password": "brand-new-pass"}
        response = await client.post("/api/auth/reset-user-password", headers=headers, json=body)
        assert response.status_code == 200 and response.json() == {
            "message": "Password reset successfully"
        }
        assert (
            await client.post("/api/auth/login", json={"identifier": email, "password": PASSWORD})
        ).status_code == 401
        await factory.login(email, "brand-new-pass")
        refreshed = await client.post(
            "/api/auth/refresh", headers={"cookie": f"refreshToken={cookie}"}
        )
        assert refreshed.status_code == 401  # the target's sessions were ended

    async def test_reset_of_a_peer_is_403_and_of_a_stranger_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, other = await factory.world(), await factory.world()
        peer_id, _ = await factory.user(world, ["ADMIN"])
        stranger_id, _ = await factory.user(other, ["VIEWER"])
        headers = await as_admin(factory, world)
        peer = await client.post(
            "/api/auth/reset-user-password",
            headers=headers,
            json={"user_id": str(peer_id), "new_password": "whatever-123"},
        )
        assert peer.status_code == 403
        assert (
            peer.json()["message"]
            == "Cannot reset the password of a user at the same or a higher role level"
        )
        far = await client.post(
            "/api/auth/reset-user-password",
            headers=headers,
            json={"user_id": str(stranger_id), "new_password": "whatever-123"},
        )
        assert far.status_code == 404 and far.json()["message"] == "User not found"

    async def test_reset_my_password_keeps_this_session_only(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        _, email = await factory.user(world, ["VIEWER"])
        first = await client.post(
            "/api/auth/login", json={"identifier": email, "password": PASSWORD}
        )
        second = await client.post(
            "/api/auth/login", json={"identifier": email, "password": PASSWORD}
        )
        token = second.json()["accessToken"]
        mine, other = second.cookies["refreshToken"], first.cookies["refreshToken"]
        wrong = await client.post(
            "/api/auth/reset-my-password",
            headers={"authorization": f"Bearer {token}", "cookie": f"refreshToken={mine}"},
            json={"current_password": "not-it-at-all", "new_password": "another-pass-1"},
        )
        assert (
            wrong.status_code == 400 and wrong.json()["message"] == "Current password is incorrect"
        )
        ok = await client.post(
            "/api/auth/reset-my-password",
            headers={"authorization": f"Bearer {token}", "cookie": f"refreshToken={mine}"},
            json={"currentPassword": PASSWORD, "newPassword": "another-pass-1"},
        )
        assert ok.status_code == 200
        assert (
            await client.post("/api/auth/refresh", headers={"cookie": f"refreshToken={other}"})
        ).status_code == 401
        assert (
            await client.post("/api/auth/refresh", headers={"cookie": f"refreshToken={mine}"})
        ).status_code == 200
        await factory.login(email, "another-pass-1")
