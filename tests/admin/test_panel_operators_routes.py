"""Operators and routes: list, create, edit, deactivate; a route's operators (LEAD/MEMBER) and
commerces; permissions, tenant isolation, CSRF and errors next to their fields."""

from __future__ import annotations

import re
import uuid

import httpx

from reten.admin.views import routes as routes_view
from reten.auth.permissions import Role
from reten.operators import service as operators
from tests.admin.support import PanelClient, browser
from tests.factories import Factory, unique

DETAIL = re.compile(r"/(operators|routes)/([0-9a-f-]{36})$")


def _id_of(response: httpx.Response) -> str:
    found = DETAIL.search(response.headers.get("location", ""))
    assert found, response.headers.get("location")
    return found.group(2)


def _error(html: str, field: str) -> str:
    found = re.search(rf'<small class="error" id="e-{field}">([^<]*)</small>', html)
    assert found, f"no error next to {field}"
    return found.group(1)


def _row(html: str, row_id: str) -> str:
    return html.split(f'id="{row_id}"')[1].split("</tr>")[0]


async def _create_operator(b: PanelClient, **fields: str) -> httpx.Response:
    await b.get("/operators")
    body = {"type": "SALESMAN", "name": "Marta Díaz", "email": "", "phone": "", "external_id": ""}
    return await b.post("/operators", body | fields)


async def _create_route(b: PanelClient, **fields: str) -> httpx.Response:
    await b.get("/routes")
    return await b.post(
        "/routes", {"name": "Ruta Sur", "external_id": "", "description": ""} | fields
    )


class TestOperators:
    async def test_create_list_edit_and_deactivate(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        email = f"{unique('marta')}@example.com"
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_operator(
                b, email=email, external_id="OP-99", phone="+56911112222"
            )
            operator_id = _id_of(created)
            listed = await b.get("/operators?sort=-created_at")
            found = await b.get("/operators?search=marta")
            missing = await b.get("/operators?search=nobody-is-called-this")
            detail = await b.get(f"/operators/{operator_id}")
            saved = await b.post(
                f"/operators/{operator_id}", {"name": "Marta Díaz Soto", "email": "", "phone": ""}
            )
            edited = await b.get(f"/operators/{operator_id}")
            ask = await b.post(f"/operators/{operator_id}/deactivate", {})
            still = await b.get("/operators?is_active=true")
            done = await b.post(f"/operators/{operator_id}/deactivate", {"confirm": "yes"})
            active = await b.get("/operators?is_active=true")
            inactive = await b.get("/operators?is_active=false&type=SALESMAN")
            back = await b.post(f"/operators/{operator_id}/activate", {})
            again = await b.get("/operators?is_active=true")
        assert created.status_code == 303
        assert listed.status_code == 200
        row = _row(listed.text, f"operator-{operator_id}")
        assert "Marta Díaz" in row and "OP-99" in row and email in row and "+56911112222" in row
        assert 'title="' in row  # the created date is rendered by |when, UTC on hover
        assert f"operator-{operator_id}" in found.text and "Juan Pérez" not in found.text
        assert "Nothing matches these filters." in missing.text
        assert 'href="/operators"' in missing.text  # clear the filters
        assert f'value="{email}"' in detail.text and "Not on any route yet" in detail.text
        assert f'href="/activities?operator_id={operator_id}"' in detail.text
        assert saved.status_code == 303
        assert 'value="Marta Díaz Soto"' in edited.text and email not in edited.text  # cleared
        assert "Deactivate Marta Díaz Soto?" in ask.text and operator_id in still.text
        assert done.status_code == 303
        assert operator_id not in active.text and operator_id in inactive.text
        assert back.status_code == 303 and operator_id in again.text

    async def test_the_list_sorts_and_paginates_with_filters_kept_in_links(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            for name in ("Beto", "Ana", "Carla"):
                await _create_operator(b, name=f"{name} Prueba")
            by_name = await b.get("/operators?search=Prueba")
            reversed_ = await b.get("/operators?search=Prueba&sort=-name")
            first = await b.get("/operators?search=Prueba&per_page=2")
            second = await b.get("/operators?search=Prueba&per_page=2&page=2")
        names = re.findall(r">(\w+) Prueba</a>", by_name.text)
        assert names == ["Ana", "Beto", "Carla"]
        assert re.findall(r">(\w+) Prueba</a>", reversed_.text) == ["Carla", "Beto", "Ana"]
        assert re.findall(r">(\w+) Prueba</a>", first.text) == ["Ana", "Beto"]
        assert "Page 1 of 2" in first.text
        assert 'href="/operators?search=Prueba&amp;per_page=2&amp;page=2"' in first.text
        assert re.findall(r">(\w+) Prueba</a>", second.text) == ["Carla"]

    async def test_errors_appear_next_to_their_fields(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        email = f"{unique('dup')}@example.com"
        async with browser(app) as b:
            await b.login(world.admin_email)
            await _create_operator(b, email=email)
            duplicate = await _create_operator(b, name="Otra", email=email)
            bad = await _create_operator(b, name="", phone="12345", email="not-an-email")
            key_taken = await _create_operator(b, name="Otro", external_id="OP-17")
            operator_id = _id_of(await _create_operator(b, name="Edit Me"))
            await b.get(f"/operators/{operator_id}")
            bad_edit = await b.post(f"/operators/{operator_id}", {"name": "Edit Me", "phone": "x"})
            no_name = await b.post(f"/operators/{operator_id}", {"name": "", "phone": ""})
            kept = await b.get(f"/operators/{operator_id}")
        assert duplicate.status_code == 409
        assert _error(duplicate.text, "email") == "email already exists"
        assert 'value="Otra"' in duplicate.text  # what was typed is kept
        assert bad.status_code == 400
        for field in ("name", "phone", "email"):
            assert _error(bad.text, field)
        assert key_taken.status_code == 409
        assert _error(key_taken.text, "external_id") == "type + external_id already exists"
        assert bad_edit.status_code == 400 and _error(bad_edit.text, "phone")
        assert 'value="x"' in bad_edit.text
        # An emptied name is refused at its field, not silently kept.
        assert no_name.status_code == 400 and _error(no_name.text, "name")
        assert 'value="Edit Me"' in kept.text

    async def test_the_list_fragment_for_htmx(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            fragment = await b.get("/operators?search=Juan", headers={"hx-request": "true"})
        assert fragment.status_code == 200
        assert "<html" not in fragment.text and "Juan Pérez" in fragment.text


class TestRoutes:
    async def test_create_edit_and_deactivate(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_route(b, external_id="R-SUR", description="Zona sur")
            route_id = _id_of(created)
            listed = await b.get("/routes?search=SUR")
            detail = await b.get(f"/routes/{route_id}")
            saved = await b.post(
                f"/routes/{route_id}",
                {"name": "Ruta Sur 2", "external_id": "R-SUR", "description": ""},
            )
            edited = await b.get(f"/routes/{route_id}")
            ask = await b.post(f"/routes/{route_id}/deactivate", {})
            done = await b.post(f"/routes/{route_id}/deactivate", {"confirm": "yes"})
            inactive = await b.get("/routes?is_active=false")
            empty = await b.get("/routes?is_active=false&search=zzz-none")
        assert created.status_code == 303
        assert (
            "Ruta Sur" in _row(listed.text, f"route-{route_id}") and "Ruta Norte" not in listed.text
        )
        assert "No operator on this route yet." in detail.text
        assert f'href="/activities?route_id={route_id}"' in detail.text
        assert "No commerce on this route yet." in detail.text
        assert saved.status_code == 303
        assert 'value="Ruta Sur 2"' in edited.text and "Zona sur" not in edited.text
        assert "Deactivate Ruta Sur 2?" in ask.text
        assert done.status_code == 303 and route_id in inactive.text
        assert "Nothing matches these filters." in empty.text

    async def test_a_taken_external_id_is_409_at_its_field(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            taken = await _create_route(b, external_id="R-1")
            bad = await _create_route(b, name="")
            route_id = _id_of(await _create_route(b, external_id="R-2"))
            await b.get(f"/routes/{route_id}")
            edit_taken = await b.post(f"/routes/{route_id}", {"name": "x", "external_id": "R-1"})
            no_name = await b.post(f"/routes/{route_id}", {"name": " ", "external_id": "R-2"})
        assert taken.status_code == 409
        assert _error(taken.text, "external_id") == "external_id already exists"
        assert bad.status_code == 400 and _error(bad.text, "name")
        assert edit_taken.status_code == 409
        assert _error(edit_taken.text, "external_id") == "external_id already exists"
        assert no_name.status_code == 400 and _error(no_name.text, "name")

    async def test_assign_operators_as_lead_or_member_and_commerces(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            other = _id_of(await _create_operator(b, name="Luisa Lead"))
            route = f"/routes/{world.route_id}"
            page = await b.get(route)
            lead = await b.post(f"{route}/operators", {"operator_id": other, "role": "LEAD"})
            with_lead = await b.get(route)
            member = await b.post(f"{route}/operators", {"operator_id": other, "role": "MEMBER"})
            demoted = await b.get(route)
            commerce = await b.post(
                f"{route}/commerces", {"commerce_external_id": world.commerce_external_ids[1]}
            )
            with_commerce = await b.get(route)
            unknown = await b.post(f"{route}/commerces", {"commerce_external_id": "NOPE-1"})
            no_operator = await b.post(f"{route}/operators", {"operator_id": "", "role": "LEAD"})
            bad_role = await b.post(f"{route}/operators", {"operator_id": other, "role": "BOSS"})
            commerce_id = str(world.commerce_ids[1])
            ask = await b.post(f"{route}/commerces/{commerce_id}/remove", {})
            removed = await b.post(f"{route}/commerces/{commerce_id}/remove", {"confirm": "yes"})
            after = await b.get(route)
            ask_op = await b.post(f"{route}/operators/{other}/remove", {})
            removed_op = await b.post(f"{route}/operators/{other}/remove", {"confirm": "yes"})
            final = await b.get(route)
        # The assign form offers active operators not already on the route.
        assert f'<option value="{other}"' in page.text
        assert f'<option value="{world.operator_id}"' not in page.text
        assert lead.status_code == 303
        lead_row = _row(with_lead.text, f"link-{other}")
        assert "Luisa Lead" in lead_row and ">LEAD<" in lead_row and "Make MEMBER" in lead_row
        # LEAD first, then the others by name.
        assert with_lead.text.index(f"link-{other}") < with_lead.text.index(
            f"link-{world.operator_id}"
        )
        assert member.status_code == 303 and ">MEMBER<" in _row(demoted.text, f"link-{other}")
        assert commerce.status_code == 303
        assert "Almacén 2" in _row(with_commerce.text, f"commerce-{commerce_id}")
        assert unknown.status_code == 400
        assert _error(unknown.text, "commerce_external_id") == "no commerce has this external id"
        assert 'value="NOPE-1"' in unknown.text
        assert no_operator.status_code == 400 and _error(no_operator.text, "operator_id")
        assert bad_role.status_code == 400 and _error(bad_role.text, "role")
        assert "Remove Almacén 2 from Ruta Norte?" in ask.text
        assert removed.status_code == 303 and f"commerce-{commerce_id}" not in after.text
        assert "Remove Luisa Lead from Ruta Norte?" in ask_op.text
        assert removed_op.status_code == 303 and f"link-{other}" not in final.text

    async def test_a_tenant_with_many_operators_finds_one_by_search(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with factory.db.sessionmaker() as session:
            for i in range(routes_view.OPERATOR_CHOICES + 1):
                await operators.create_operator(
                    session, world.tenant_id, external_id=f"BULK-{i:03d}", name=f"Aaron {i:03d}"
                )
            await operators.create_operator(
                session, world.tenant_id, external_id="LAST", name="Zoe Última"
            )
            await session.commit()
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get(f"/routes/{world.route_id}")
            found = await b.get(f"/routes/{world.route_id}?operator_search=zoe")
            nobody = await b.get(f"/routes/{world.route_id}?operator_search=nobody-here")
        # The first 100 by name are offered, with a search for the others.
        assert page.text.count("<option value=") == routes_view.OPERATOR_CHOICES + 1  # + choose…
        assert "Zoe Última" not in page.text and 'id="find-operator"' in page.text
        assert "first 100 matches" in page.text
        assert found.text.count("<option value=") == 2 and "Zoe Última" in found.text
        assert "No active operator off this route matches" in nobody.text


class TestAccess:
    async def test_a_viewer_sees_no_link_and_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(viewer)
            home = await b.get("/")
            pages = [
                await b.get("/operators"),
                await b.get(f"/operators/{world.operator_id}"),
                await b.get("/routes"),
                await b.get(f"/routes/{world.route_id}"),
            ]
            await b.get("/")
            posts = [
                await b.post("/operators", {"type": "SALESMAN", "name": "x"}),
                await b.post(f"/operators/{world.operator_id}/deactivate", {"confirm": "yes"}),
                await b.post("/routes", {"name": "x"}),
                await b.post(
                    f"/routes/{world.route_id}/operators",
                    {"operator_id": str(world.operator_id), "role": "LEAD"},
                ),
            ]
        assert 'href="/operators"' not in home.text and 'href="/routes"' not in home.text
        for response in pages + posts:
            assert response.status_code == 403 and "<h1>Not allowed</h1>" in response.text

    async def test_an_fde_manages_operators_and_routes(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        _, fde = await factory.user(world, [Role.FDE.value])
        async with browser(app) as b:
            await b.login(fde)
            home = await b.get("/")
            created = await _create_route(b, name="Ruta FDE")
        assert 'href="/operators"' in home.text and 'href="/routes"' in home.text
        assert created.status_code == 303

    async def test_objects_of_another_tenant_are_not_found(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        their_op, their_route = theirs.operator_id, theirs.route_id
        async with browser(app) as b:
            await b.login(mine.admin_email)
            gets = [
                await b.get(f"/operators/{their_op}"),
                await b.get(f"/routes/{their_route}"),
            ]
            await b.get("/operators")
            posts = [
                await b.post(f"/operators/{their_op}", {"name": "mine now"}),
                await b.post(f"/operators/{their_op}/deactivate", {"confirm": "yes"}),
                await b.post(f"/routes/{their_route}", {"name": "mine now"}),
                await b.post(f"/routes/{their_route}/deactivate", {"confirm": "yes"}),
                await b.post(
                    f"/routes/{their_route}/operators",
                    {"operator_id": str(mine.operator_id), "role": "LEAD"},
                ),
                await b.post(f"/routes/{mine.route_id}/operators/{their_op}/remove", {}),
            ]
            # My route, their operator or commerce: refused at the field, nothing linked.
            foreign_op = await b.post(
                f"/routes/{mine.route_id}/operators", {"operator_id": str(their_op), "role": "LEAD"}
            )
            foreign_commerce = await b.post(
                f"/routes/{mine.route_id}/commerces",
                {"commerce_external_id": theirs.commerce_external_ids[0]},
            )
            listed = await b.get(f"/routes/{mine.route_id}")
        for response in gets + posts:
            assert response.status_code == 404 and "<h1>Not found</h1>" in response.text
        assert foreign_op.status_code == 404
        assert _error(foreign_op.text, "operator_id") == "Operator not found"
        # Both worlds name their first commerce COM-001: mine is the one linked, never theirs.
        assert foreign_commerce.status_code == 303
        assert f"commerce-{mine.commerce_ids[0]}" in listed.text
        assert f"commerce-{theirs.commerce_ids[0]}" not in listed.text
        assert f"link-{their_op}" not in listed.text

    async def test_a_form_without_its_csrf_token_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get(f"/routes/{world.route_id}")
            refused = [
                await b.post("/operators", {"type": "SALESMAN", "name": "x"}, csrf=False),
                await b.post(
                    f"/routes/{world.route_id}/commerces",
                    {"commerce_external_id": world.commerce_external_ids[1]},
                    csrf=False,
                ),
                await b.post(
                    f"/routes/{world.route_id}/operators/{world.operator_id}/remove",
                    {"confirm": "yes", "csrf_token": uuid.uuid4().hex},
                    csrf=False,
                ),
            ]
            after = await b.get(f"/routes/{world.route_id}")
        for response in refused:
            assert response.status_code == 403
        assert f"commerce-{world.commerce_ids[1]}" not in after.text
        assert f"link-{world.operator_id}" in after.text
