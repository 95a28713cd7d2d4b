"""S1/S2 over the app's route table: every route declares its access, and the declaration holds.

A new route fails these tests until it declares a permission (or is explicitly public), and until
a route with an object id in its path has an entry in OBJECT_MAKERS below, so its tenant
isolation is checked.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from reten.activity_config import service as activity_config
from reten.activity_config.schemas import TaskResultTypeCreate
from reten.api_keys import service as api_keys
from reten.app import ROUTERS
from reten.auth.permissions import Permission, permissions_for_roles
from reten.kit.actor import Actor
from tests.activities.makers import OBJECT_MAKERS as ACTIVITY_MAKERS
from tests.activity_config.makers import OBJECT_MAKERS as ACTIVITY_CONFIG_MAKERS
from tests.commerces.makers import OBJECT_MAKERS as COMMERCE_MAKERS
from tests.dispatch.makers import OBJECT_MAKERS as DISPATCH_MAKERS
from tests.factories import Factory, Maker, World, unique
from tests.operators.makers import OBJECT_MAKERS as OPERATOR_MAKERS
from tests.resolution.makers import OBJECT_MAKERS as RESOLUTION_MAKERS
from tests.results.makers import OBJECT_MAKERS as RESULT_MAKERS
from tests.routes.makers import OBJECT_MAKERS as ROUTE_MAKERS
from tests.tenants.makers import OBJECT_MAKERS as TENANT_MAKERS
from tests.users.makers import OBJECT_MAKERS as USER_MAKERS

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/ready"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
}


def _routes() -> list[tuple[str, str, str, Permission | None]]:
    """(method, path, access class, permission) of every /api route."""
    out = []
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute) or not route.path.startswith("/api"):
            continue
        marks = [
            dep.call.__reten_access__  # type: ignore[union-attr]
            for dep in route.dependant.dependencies
            if hasattr(dep.call, "__reten_access__")
        ]
        for method in sorted(route.methods):
            access, permission = (
                marks[0] if len(marks) == 1 else ("MISSING" if not marks else "AMBIGUOUS", None)
            )
            out.append((method, route.path, access, permission))
    return out


ROUTES = _routes()
PROTECTED = [r for r in ROUTES if (r[0], r[1]) not in PUBLIC]
# Routes naming an object that belongs to a tenant. Session-class routes (/api/tenant/{id}) act
# on tenants themselves, which only a SUPER_ADMIN may change: their rule is the permission.
TENANT_OBJECT_ROUTES = [r for r in PROTECTED if "{" in r[1] and r[2] != "session"]


async def _make_result_type(factory: Factory, world: World) -> str:
    async with factory.db.sessionmaker() as session:
        item = await activity_config.create_type(
            session,
            world.tenant_id,
            TaskResultTypeCreate(code=unique("T").upper().replace("-", "_"), label="x"),
            actor=Actor.system(),
        )
        return str(item.id)


async def _make_api_key(factory: Factory, world: World) -> str:
    async with factory.db.sessionmaker() as session:
        key, _ = await api_keys.create_key(
            session, tenant_id=world.tenant_id, owner_id=world.admin_id,
            owner_permissions=permissions_for_roles(["ADMIN"]), name="victim",
            permissions=["VIEW_ACTIVITIES"], expires_at=None, actor=Actor.system(),
        )  # fmt: skip
        return str(key.id)


async def _result_type_ids(factory: Factory, world: World) -> dict[str, str]:
    return {"id": await _make_result_type(factory, world)}


async def _api_key_ids(factory: Factory, world: World) -> dict[str, str]:
    return {"id": await _make_api_key(factory, world)}


# Routes whose path names objects of a tenant: how to make them in tenant A. A maker returns the
# value of each path parameter (parameters it does not name get a random UUID). Each domain's
# test package contributes its own table (tests/<domain>/makers.py).
OBJECT_MAKERS: dict[str, Maker] = {
    "/api/activity-config/task-result-types/{id}": _result_type_ids,
    "/api/api-keys/{id}/revoke": _api_key_ids,
    **ACTIVITY_MAKERS,
    **ACTIVITY_CONFIG_MAKERS,
    **RESOLUTION_MAKERS,
    **RESULT_MAKERS,
    **COMMERCE_MAKERS,
    **DISPATCH_MAKERS,
    **OPERATOR_MAKERS,
    **ROUTE_MAKERS,
    **USER_MAKERS,
    **TENANT_MAKERS,
}


class Caller:
    """Credentials of one tenant's ADMIN, in whichever form a route's access class takes."""

    def __init__(self, world: World, token: str, key: str) -> None:
        self.world, self.token, self.key = world, token, key

    def headers(self, access: str) -> dict[str, str]:
        if access == "integration":
            return {"x-api-key": self.key}
        headers = {"authorization": f"Bearer {self.token}"}
        if access in ("tenant", "tenant-user"):
            headers["x-tenant-id"] = str(self.world.tenant_id)
        return headers


async def _caller(factory: Factory, roles: list[str] | None = None) -> Caller:
    """A member of a fresh tenant: its ADMIN, or a new member holding `roles`."""
    world = await factory.world()
    if roles is None:
        email, held = world.admin_email, ["ADMIN"]
    else:
        user_id, email = await factory.user(world, roles)
        world.admin_id, held = user_id, roles
    token = await factory.login(email)
    key = await factory.api_key(
        world, sorted(permissions_for_roles(held)), owner_id=world.admin_id, owner_roles=held
    )
    return Caller(world, token, key)


async def _call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        method, path, headers=headers, json={} if method in ("POST", "PATCH", "PUT") else None
    )


def _concrete(path: str, ids: dict[str, str] | None = None) -> str:
    values = ids or {}
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


class TestRouteTable:
    def test_every_route_declares_exactly_one_access_rule(self) -> None:
        bad = [(m, p, a) for m, p, a, _ in ROUTES if a in ("MISSING", "AMBIGUOUS")]
        assert bad == []

    def test_public_routes_are_exactly_the_documented_ones(self) -> None:
        assert {(m, p) for m, p, a, _ in ROUTES if a == "public"} == PUBLIC

    def test_every_object_route_has_an_isolation_check(self) -> None:
        assert {p for _, p, _, _ in TENANT_OBJECT_ROUTES} == set(OBJECT_MAKERS)

    @pytest.mark.parametrize(("method", "path", "access", "permission"), PROTECTED)
    async def test_no_credentials_is_401(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        access: str,
        permission: Permission | None,
    ) -> None:
        response = await _call(client, method, _concrete(path), {})
        assert response.status_code == 401, response.text
        assert response.json()["statusCode"] == 401

    @pytest.mark.parametrize(
        ("method", "path", "access", "permission"), [r for r in PROTECTED if r[3] is not None]
    )
    async def test_credential_without_the_permission_is_403(
        self, client: httpx.AsyncClient, factory: Factory,
        method: str, path: str, access: str, permission: Permission,
    ) -> None:  # fmt: skip
        world = await factory.world()
        if access in ("integration", "tenant"):
            other = next(
                p
                for p in (Permission.VIEW_ACTIVITIES, Permission.SUBMIT_ACTIVITY_RESULT)
                if p != permission
            )
            headers = {"x-api-key": await factory.api_key(world, [other])}
        else:
            # The lowest role that lacks the permission.
            role = next(
                r
                for r in ("VIEWER", "FDE", "ADMIN")
                if permission not in permissions_for_roles([r])
            )
            _, email = await factory.user(world, [role])
            headers = {
                "authorization": f"Bearer {await factory.login(email)}",
                "x-tenant-id": str(world.tenant_id),
            }
        response = await _call(client, method, _concrete(path), headers)
        assert response.status_code == 403, response.text
        assert "Insufficient permissions" in response.json()["message"]

    @pytest.mark.parametrize(("method", "path", "access", "permission"), TENANT_OBJECT_ROUTES)
    async def test_another_tenants_object_is_404(
        self, client: httpx.AsyncClient, factory: Factory,
        method: str, path: str, access: str, permission: Permission | None,
    ) -> None:  # fmt: skip
        owner = await factory.world()
        ids = await OBJECT_MAKERS[path](factory, owner)
        body = ids.pop("_body", {}) if method in ("POST", "PATCH", "PUT") else None
        # The intruder holds every permission (a SUPER_ADMIN member of its own tenant), so only
        # the tenant boundary can stop it; the body is valid, so only the object lookup can fail.
        intruder = await _caller(factory, roles=["SUPER_ADMIN"])
        response = await client.request(
            method, _concrete(path, ids), headers=intruder.headers(access), json=body
        )
        assert response.status_code == 404, response.text

    @pytest.mark.parametrize(
        ("method", "path", "access", "permission"),
        [
            r
            for r in PROTECTED
            if r[0] == "GET"
            and "{" not in r[1]
            and r[2] in ("tenant", "tenant-user", "integration")
        ],
    )
    async def test_lists_never_show_another_tenants_objects(
        self, client: httpx.AsyncClient, factory: Factory,
        method: str, path: str, access: str, permission: Permission | None,
    ) -> None:  # fmt: skip
        owner = await factory.world()
        secrets_of_owner: list[Any] = [
            await factory.task(owner),
            await _make_result_type(factory, owner),
            await _make_api_key(factory, owner),
            owner.tenant_id,
            owner.operator_id,
            owner.route_id,
            *owner.commerce_ids,
        ]
        intruder = await _caller(factory)
        await factory.task(intruder.world)
        response = await _call(client, method, path, intruder.headers(access))
        assert response.status_code == 200, response.text
        for value in secrets_of_owner:
            assert str(value) not in response.text

    def test_the_route_table_is_the_whole_api(self) -> None:
        from reten.app import create_app
        from reten.config import Settings

        app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
        served = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
        assert served == {(m, p) for m, p, _, _ in ROUTES}

    def test_the_api_overview_documents_every_route(self) -> None:
        from pathlib import Path

        overview = (Path(__file__).parents[1] / "docs" / "api-overview.md").read_text()
        missing = [(m, p) for m, p, _, _ in ROUTES if f"| {m} | `{p}` |" not in overview]
        assert missing == []
