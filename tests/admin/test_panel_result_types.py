"""Result types: list, create, edit, deactivate; permissions, isolation, field errors, secrets."""

from __future__ import annotations

import re

import httpx

from reten.auth.permissions import Role
from reten.users.models import User
from tests.admin.support import PanelClient, browser
from tests.factories import PASSWORD, Factory

TYPE_LINK = re.compile(r'href="/result-types/([0-9a-f-]{36})"><code>([A-Z_0-9]+)</code>')


def _types(html: str) -> dict[str, str]:
    return {code: type_id for type_id, code in TYPE_LINK.findall(html)}


async def _create(b: PanelClient, code: str, **fields: str) -> httpx.Response:
    await b.get("/result-types")
    body = {"code": code, "label": "Llamar más tarde", "outcome": "NOT_EFFECTIVE"} | fields
    return await b.post("/result-types", body)


class TestResultTypes:
    async def test_create_edit_and_deactivate(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(
                b, "CALL_LATER", requires_future_scheduled_at="true", sort_order="50"
            )
            listed = await b.get("/result-types")
            type_id = _types(listed.text)["CALL_LATER"]
            edit = await b.get(f"/result-types/{type_id}")
            saved = await b.post(
                f"/result-types/{type_id}",
                {"label": "Volver a llamar", "outcome": "EFFECTIVE", "sort_order": "5"},
            )
            ask = await b.post(f"/result-types/{type_id}/deactivate", {})
            still = await b.get("/result-types?is_active=true")
            done = await b.post(f"/result-types/{type_id}/deactivate", {"confirm": "yes"})
            active = await b.get("/result-types?is_active=true")
            inactive = await b.get("/result-types?is_active=false")
        assert created.status_code == 303
        assert "checked" in edit.text and 'value="50"' in edit.text
        assert saved.status_code == 303
        assert "Deactivate CALL_LATER?" in ask.text and "CALL_LATER" in still.text
        assert done.status_code == 303
        assert "CALL_LATER" not in active.text and "SALE_COMPLETED" in active.text
        row = inactive.text.split(f'id="type-{type_id}"')[1].split("</tr>")[0]
        assert "Volver a llamar" in row and ">EFFECTIVE<" in row and "—" in row  # unticked

    async def test_a_duplicate_code_is_409_at_the_code_field_and_bad_input_next_to_its_field(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            duplicate = await _create(b, "SALE_COMPLETED")
            bad = await _create(b, "lower-case", sort_order="first")
        assert duplicate.status_code == 409
        assert re.search(r'id="e-code">code already exists', duplicate.text)
        assert 'value="Llamar más tarde"' in duplicate.text  # what was typed is kept
        assert bad.status_code == 400
        assert 'id="e-code">must match' in bad.text
        assert 'id="e-sort_order">' in bad.text


class TestResultTypesAccess:
    async def test_a_viewer_sees_no_write_button_and_is_refused_posting(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as admin:
            await admin.login(world.admin_email)
            type_id = _types((await admin.get("/result-types")).text)["SALE_COMPLETED"]
        async with browser(app) as b:
            await b.login(viewer)
            listed = await b.get("/result-types")
            detail = await b.get(f"/result-types/{type_id}")
            posted = await b.post("/result-types", {"code": "X", "label": "x"})
            deactivate = await b.post(f"/result-types/{type_id}/deactivate", {"confirm": "yes"})
        assert listed.status_code == 200 and "SALE_COMPLETED" in listed.text
        assert "Create a result type" not in listed.text
        assert "<button" not in detail.text.split("</header>")[1]
        assert posted.status_code == 403 and "<h1>Not allowed</h1>" in posted.text
        assert deactivate.status_code == 403

    async def test_a_type_of_another_tenant_is_not_found_by_url(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with browser(app) as other:
            await other.login(theirs.admin_email)
            their_id = _types((await other.get("/result-types")).text)["SALE_COMPLETED"]
        async with browser(app) as b:
            await b.login(mine.admin_email)
            responses = [await b.get(f"/result-types/{their_id}")]
            await b.get("/result-types")
            responses.append(await b.post(f"/result-types/{their_id}", {"label": "mine now"}))
            responses.append(
                await b.post(f"/result-types/{their_id}/deactivate", {"confirm": "yes"})
            )
        for response in responses:
            assert response.status_code == 404 and "<h1>Not found</h1>" in response.text

    async def test_no_page_shows_a_password_hash(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with factory.db.sessionmaker() as session:
            admin = await session.get(User, world.admin_id)
            assert admin is not None
            password_hash = admin.password_hash
        async with browser(app) as b:
            await b.login(world.admin_email)
            listed = await b.get("/result-types")
            pages = [listed.text]
            for type_id in _types(listed.text).values():
                pages.append((await b.get(f"/result-types/{type_id}")).text)
            pages.append((await _create(b, "SALE_COMPLETED")).text)
        assert len(pages) == 6
        for html in pages:
            assert password_hash not in html and "$argon2" not in html and PASSWORD not in html
