"""Commerces: the list with search, a commerce's page (addresses, users, contacts, routes,
recent activities); permissions and tenant isolation."""

from __future__ import annotations

import re
import uuid

from reten.auth.permissions import Role
from reten.commerces import service as commerces
from reten.commerces.schemas import CommerceCreate
from reten.kit.db import Database
from tests.admin.support import browser
from tests.factories import Factory, World, unique


async def _full_commerce(db: Database, world: World) -> uuid.UUID:
    data = CommerceCreate.model_validate(
        {
            "external_id": unique("COM"),
            "name": "Minimarket Los Andes",
            "tax_id": "76.123.456-7",
            "addresses": [
                {
                    "address_alias": "Local",
                    "street": "Av. Providencia",
                    "street_number": "1234",
                    "commune": "Providencia",
                    "city": "Santiago",
                    "country_code": "CL",
                    "is_primary": True,
                }
            ],
            "users": [
                {
                    "name": "Rosa Dueña",
                    "external_id": "U-1",
                    "roles": ["OWNER"],
                    "contacts": [
                        {"contact_type": "EMAIL", "value": "rosa@example.com", "is_primary": True},
                        {"contact_type": "WHATSAPP", "value": "+56987654321"},
                    ],
                }
            ],
        }
    )
    async with db.sessionmaker() as session:
        bundle = await commerces.create(session, world.tenant_id, data)
        return bundle.commerce.id


class TestCommerces:
    async def test_list_search_sort_and_empty_state(self, app: object, factory: Factory) -> None:
        world = await factory.world(commerces_count=3)
        async with browser(app) as b:
            await b.login(world.admin_email)
            listed = await b.get("/commerces")
            reversed_ = await b.get("/commerces?sort=-name")
            found = await b.get("/commerces?search=COM-002")
            none = await b.get("/commerces?search=zzz-nothing")
            fragment = await b.get("/commerces?search=2", headers={"hx-request": "true"})
            paged = await b.get("/commerces?per_page=2&page=2")
        names = re.findall(r'href="/commerces/[0-9a-f-]{36}">([^<]+)</a>', listed.text)
        assert names == ["Almacén 1", "Almacén 2", "Almacén 3"]
        assert re.findall(r'href="/commerces/[0-9a-f-]{36}">([^<]+)</a>', reversed_.text) == [
            "Almacén 3",
            "Almacén 2",
            "Almacén 1",
        ]
        assert "Almacén 2" in found.text and "Almacén 1" not in found.text
        assert "Nothing matches these filters." in none.text
        assert "<html" not in fragment.text and "Almacén 2" in fragment.text
        assert "Almacén 3" in paged.text and "Page 2 of 2" in paged.text

    async def test_detail_shows_addresses_users_contacts_routes_and_activities(
        self, app: object, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        commerce_id = await _full_commerce(db, world)
        activity_id = await factory.task(world)  # on the world's first commerce
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get(f"/routes/{world.route_id}")
            await b.post(
                f"/routes/{world.route_id}/commerces",
                {"commerce_external_id": world.commerce_external_ids[0]},
            )
            full = await b.get(f"/commerces/{commerce_id}")
            first = await b.get(f"/commerces/{world.commerce_ids[0]}")
        assert full.status_code == 200
        assert "Minimarket Los Andes" in full.text and "76.123.456-7" in full.text
        assert "Av. Providencia 1234" in full.text and "Providencia, Santiago, CL" in full.text
        assert "Rosa Dueña" in full.text and ">OWNER<" in full.text
        assert "rosa@example.com" in full.text and "+56987654321" in full.text
        assert "Not on any route." in full.text
        assert "No activity for this commerce yet." in full.text
        assert f'href="/routes/{world.route_id}">Ruta Norte</a>' in first.text
        assert f'href="/activities/{activity_id}"' in first.text
        assert "<time datetime=" in first.text  # dates through |when

    async def test_an_fde_reads_a_commerce_with_its_routes_and_activities(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        _, fde = await factory.user(world, [Role.FDE.value])
        async with browser(app) as b:
            await b.login(fde)
            page = await b.get(f"/commerces/{world.commerce_ids[0]}")
        assert page.status_code == 200
        assert 'id="activities"' in page.text and 'id="routes"' in page.text


class TestCommercesAccess:
    async def test_a_viewer_sees_no_link_and_gets_403(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(viewer)
            home = await b.get("/")
            listed = await b.get("/commerces")
            detail = await b.get(f"/commerces/{world.commerce_ids[0]}")
        assert 'href="/commerces"' not in home.text
        for response in (listed, detail):
            assert response.status_code == 403 and "<h1>Not allowed</h1>" in response.text

    async def test_a_commerce_of_another_tenant_is_not_found(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with browser(app) as b:
            await b.login(mine.admin_email)
            other = await b.get(f"/commerces/{theirs.commerce_ids[0]}")
            listed = await b.get("/commerces")
            bad_id = await b.get("/commerces/not-a-uuid")
        assert other.status_code == 404 and "<h1>Not found</h1>" in other.text
        assert str(theirs.commerce_ids[0]) not in listed.text
        assert str(mine.commerce_ids[0]) in listed.text
        assert bad_id.status_code == 400
