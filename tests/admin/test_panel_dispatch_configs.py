"""Dispatch configuration pages: the list per channel, create/edit with credential inputs from the
credentialSchema, activate/deactivate, test delivery, the signing secret shown once and rotated,
the attempt log with its filters; permissions, tenant isolation, CSRF, field errors, secrets."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from reten.auth.permissions import Role
from reten.dispatch import service
from reten.dispatch.models import DispatchConfig
from reten.kit.time import utcnow
from reten.users.models import User
from tests.admin.support import PanelClient, browser
from tests.dispatch.makers import add_attempt, provider_id
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import PASSWORD, Factory, World

PATH = "/dispatch-configs"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")
CONFIG_LINK = re.compile(r'href="/dispatch-configs/([0-9a-f-]{36})"')
BEARER = "planted-bearer-token-7Hq2"
API_KEY = "planted-yom-api-key-Zx81"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()


async def _create(
    b: PanelClient, factory: Factory, code: str = "WEBHOOK", **fields: str
) -> httpx.Response:
    await b.get(f"{PATH}/new?provider={code}&channel={fields.get('channel', 'SALESMAN')}")
    body = {
        "dispatch_provider_id": str(await provider_id(factory.db, code)),
        "channel": "SALESMAN",
        "base_url": "https://hooks.example.com/reten",
    } | fields
    return await b.post(PATH, body)


def _config_id(html: str) -> str:
    found = re.search(r'action="/dispatch-configs/([0-9a-f-]{36})/test"', html)
    assert found, "not a config page with actions"
    return found.group(1)


async def _stored_credentials(factory: Factory, app: object, config_id: str) -> dict[str, str]:
    secretbox = app.state.runtime.secretbox  # type: ignore[attr-defined]
    async with factory.db.sessionmaker() as session:
        config = await session.get(DispatchConfig, uuid.UUID(config_id))
        assert config is not None
        return service.open_config_secrets(secretbox, config, utcnow())[0]


class TestCreateAndSecrets:
    async def test_webhook_config_shows_its_secret_once_and_never_a_credential(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            empty = await b.get(PATH)
            form = await b.get(f"{PATH}/new?provider=WEBHOOK&channel=SALESMAN")
            created = await _create(
                b,
                factory,
                credential_bearerToken=BEARER,
                timeout_seconds="5",
                retry_schedule="0, 10, 60",
            )
            config_id = _config_id(created.text)
            first_secret = SECRET.search(created.text)
            later = [
                await b.get(PATH),
                await b.get(f"{PATH}/{config_id}"),
                await b.get(f"{PATH}/{config_id}", headers={"hx-request": "true"}),
                await b.get(f"{PATH}/new?provider=WEBHOOK&channel=SALESMAN"),
            ]
            await b.get(f"{PATH}/{config_id}")
            ask = await b.post(f"{PATH}/{config_id}/rotate-secret", {})
            rotated = await b.post(f"{PATH}/{config_id}/rotate-secret", {"confirm": "yes"})
            second_secret = SECRET.search(rotated.text)
            after = [await b.get(PATH), await b.get(f"{PATH}/{config_id}")]
        # Every channel is listed, each saying it is not configured yet.
        assert empty.text.count("Not configured") == 6
        # The credential input comes from WEBHOOK's credentialSchema: a password, never filled.
        assert re.search(r'name="credential_bearerToken" type="password"', form.text)
        assert created.status_code == 201 and first_secret is not None
        assert "shown only once" in created.text
        assert "Rotate the signing secret?" in ask.text and SECRET.search(ask.text) is None
        assert rotated.status_code == 200 and second_secret is not None
        assert second_secret.group(0) != first_secret.group(0)
        assert "previous secret keeps signing until" in rotated.text
        for page in [created, ask, rotated, *later, *after]:
            assert BEARER not in page.text
        for page in [ask, *later, *after]:
            assert SECRET.search(page.text) is None, page.url
        detail = later[1].text
        assert "<code>https://hooks.example.com/reten</code>" in detail
        assert "bearerToken stored" in detail and "0, 10, 60 s (3 attempts)" in detail
        assert "5 s" in detail and ">inactive<" in detail  # not activated unless ticked

    async def test_blank_credential_keeps_the_stored_one_a_typed_one_replaces_it(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(b, factory, "YOM", credential_apiKey=API_KEY)
            config_id = _config_id(created.text)
            edit = await b.get(f"{PATH}/{config_id}")
            kept = await b.post(
                f"{PATH}/{config_id}",
                {"base_url": "https://yom.example.com/v2", "credential_apiKey": ""},
            )
            kept_value = await _stored_credentials(factory, app, config_id)
            await b.get(f"{PATH}/{config_id}")
            replaced = await b.post(
                f"{PATH}/{config_id}",
                {"base_url": "https://yom.example.com/v2", "credential_apiKey": "new-key-42"},
            )
            replaced_value = await _stored_credentials(factory, app, config_id)
            page = await b.get(f"{PATH}/{config_id}")
        assert created.status_code == 201 and SECRET.search(created.text) is None  # YOM signs not
        assert "Leave blank to keep it" in edit.text and API_KEY not in edit.text
        assert kept.status_code == 303 and kept_value == {"apiKey": API_KEY}
        assert replaced.status_code == 303 and replaced_value == {"apiKey": "new-key-42"}
        assert "<code>https://yom.example.com/v2</code>" in page.text
        assert "new-key-42" not in page.text and API_KEY not in page.text

    async def test_an_optional_credential_can_be_removed(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            config_id = _config_id((await _create(b, factory, credential_bearerToken=BEARER)).text)
            await b.get(f"{PATH}/{config_id}")
            removed = await b.post(
                f"{PATH}/{config_id}",
                [
                    ("base_url", "https://hooks.example.com/reten"),
                    ("remove_credential", "bearerToken"),
                ],
            )
            page = await b.get(f"{PATH}/{config_id}")
        assert removed.status_code == 303
        assert await _stored_credentials(factory, app, config_id) == {}
        assert "none stored" in page.text

    async def test_errors_appear_next_to_their_fields_and_typed_values_are_kept(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            bad_url = await _create(b, factory, "YOM", base_url="ftp://yom.example.com")
            missing = await _create(b, factory, "YOM", base_url="https://yom.example.com")
            bad_settings = await _create(
                b,
                factory,
                credential_bearerToken=BEARER,
                timeout_seconds="99",
                retry_schedule="0, soon",
                max_concurrency="many",
            )
            listed = await b.get(PATH)
        assert bad_url.status_code == 400
        assert re.search(r'id="e-base_url">must be an absolute http', bad_url.text)
        assert 'value="ftp://yom.example.com"' in bad_url.text  # what was typed is kept
        # The provider's own rule (YOM requires apiKey) is checked by the service, at its input.
        assert missing.status_code == 400
        assert re.search(r'id="e-credential_apiKey">is required', missing.text)
        assert bad_settings.status_code == 400
        assert re.search(
            r'id="e-timeout_seconds">must be an integer between 1 and 30', bad_settings.text
        )
        assert 'id="e-retry_schedule">' in bad_settings.text
        assert 'id="e-max_concurrency">' in bad_settings.text
        assert 'value="0, soon"' in bad_settings.text
        assert BEARER not in bad_settings.text  # a typed credential is never echoed back
        assert "Not configured" in listed.text and listed.text.count("Not configured") == 6

    async def test_no_page_shows_a_password_hash(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with factory.db.sessionmaker() as session:
            admin = await session.get(User, world.admin_id)
            assert admin is not None
            password_hash = admin.password_hash
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(b, factory)
            pages = [created, await b.get(PATH), await b.get(f"{PATH}/{_config_id(created.text)}")]
        for page in pages:
            assert password_hash not in page.text and PASSWORD not in page.text
            assert "$argon2" not in page.text


class TestActions:
    async def test_activate_and_deactivate_ask_first(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            config_id = _config_id((await _create(b, factory)).text)
            ask = await b.post(f"{PATH}/{config_id}/activate", {})
            still = await b.get(f"{PATH}/{config_id}")
            done = await b.post(f"{PATH}/{config_id}/activate", {"confirm": "yes"})
            active = await b.get(PATH)
            # A second active config of the channel is refused (rule 1A), as a page.
            other_id = _config_id((await _create(b, factory, "MOCK", base_url="")).text)
            await b.get(f"{PATH}/{other_id}")
            taken = await b.post(f"{PATH}/{other_id}/activate", {"confirm": "yes"})
            await b.get(f"{PATH}/{config_id}")
            ask_off = await b.post(f"{PATH}/{config_id}/deactivate", {})
            off = await b.htmx_post(f"{PATH}/{config_id}/deactivate", "confirm=yes")
            inactive = await b.get(f"{PATH}/{config_id}")
        assert "Activate SALESMAN · WEBHOOK?" in ask.text and ">inactive<" in still.text
        assert done.status_code == 303
        row = active.text.split(f'id="config-{config_id}"')[1].split("</tr>")[0]
        assert ">active<" in row and ">healthy<" in row
        assert taken.status_code == 409 and "already has an active dispatch config" in taken.text
        assert "Deactivate SALESMAN · WEBHOOK?" in ask_off.text
        assert off.status_code == 204 and off.headers["hx-redirect"] == f"{PATH}/{config_id}"
        assert ">inactive<" in inactive.text and "deactivated by hand" in inactive.text

    async def test_a_test_delivery_shows_the_providers_answer(
        self, app: object, factory: Factory, receiver: Receiver
    ) -> None:
        receiver.answer(Reply(status=202, body=b'{"id": "provider-run-77", "note": "queued"}'))
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(
                b, factory, base_url=receiver.url(), credential_bearerToken=BEARER
            )
            config_id = _config_id(created.text)
            await b.get(f"{PATH}/{config_id}")
            tested = await b.post(f"{PATH}/{config_id}/test", {})
            receiver.answer(Reply(status=500, body=b"receiver exploded"))
            failed = await b.post(f"{PATH}/{config_id}/test", {})
            attempts = await b.get(f"{PATH}/{config_id}")
        assert tested.status_code == 200
        assert 'Test delivery: <span class="badge badge-good">SUCCESS</span>' in tested.text
        assert "<dd>202</dd>" in tested.text and "provider-run-77" in tested.text
        assert receiver.received[0].headers["authorization"] == f"Bearer {BEARER}"
        assert receiver.received[0].headers["webhook-signature"].startswith("v1,")
        assert "FAILURE" in failed.text and "<dd>500</dd>" in failed.text
        assert "receiver exploded" in failed.text
        for page in (tested, failed):
            assert BEARER not in page.text and SECRET.search(page.text) is None
        # A test delivery is not an attempt of any activity: the log stays empty.
        assert "No delivery attempt yet" in attempts.text


class TestAttemptLog:
    async def _config_with_attempts(
        self, app: object, factory: Factory, world: World
    ) -> tuple[str, uuid.UUID, uuid.UUID]:
        async with browser(app) as b:
            await b.login(world.admin_email)
            config_id = _config_id((await _create(b, factory)).text)
        first, second = await factory.task(world), await factory.task(world)
        now = utcnow()
        await add_attempt(factory.db, world, first, config_id, at=now - timedelta(days=3),
                          outcome="FAILURE", http_status=503, error="HTTP 503", excerpt="busy")  # fmt: skip
        await add_attempt(factory.db, world, first, config_id, number=2,
                          at=now - timedelta(hours=1), excerpt="accepted-first")  # fmt: skip
        await add_attempt(factory.db, world, second, config_id, at=now - timedelta(minutes=5),
                          excerpt="accepted-second")  # fmt: skip
        return config_id, first, second

    async def test_filters_are_in_the_url_and_the_log_refreshes_itself(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        config_id, first, second = await self._config_with_attempts(app, factory, world)
        yesterday = (utcnow() - timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
        async with browser(app) as b:
            await b.login(world.admin_email)
            every = await b.get(f"{PATH}/{config_id}")
            failures = await b.get(f"{PATH}/{config_id}?outcome=FAILURE")
            of_second = await b.get(f"{PATH}/{config_id}?activity_id={second}")
            recent = await b.get(f"{PATH}/{config_id}", params={"from": yesterday})
            fragment = await b.get(
                f"{PATH}/{config_id}?outcome=SUCCESS", headers={"hx-request": "true"}
            )
            nothing = await b.get(f"{PATH}/{config_id}?outcome=FAILURE&activity_id={second}")
            bad = await b.get(f"{PATH}/{config_id}?activity_id=not-a-uuid")

        def rows(html: str) -> int:
            return html.count('<tr id="attempt-')

        assert rows(every.text) == 3 and "HTTP 503" in every.text
        assert f'href="/activities/{first}"' in every.text
        assert rows(failures.text) == 1 and "HTTP 503" in failures.text
        assert rows(of_second.text) == 1 and "accepted-second" in of_second.text
        # The dates are read in the tenant's zone; the three-day-old failure is left out.
        assert rows(recent.text) == 2 and "HTTP 503" not in recent.text
        # htmx gets only the log, which polls its own URL with the same filters.
        assert fragment.text.lstrip().startswith('<div id="attempts"')
        assert "<html" not in fragment.text and rows(fragment.text) == 2
        assert f'hx-get="{PATH}/{config_id}?outcome=SUCCESS"' in fragment.text
        assert re.search(r'hx-trigger="every \d+s"', fragment.text)
        assert "Nothing matches these filters" in nothing.text
        assert bad.status_code == 400 and "activity_id" in bad.text

    async def test_a_410_or_the_circuit_breaker_is_a_banner_with_its_reason(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            gone = _config_id((await _create(b, factory, is_active="true")).text)
            broken = _config_id(
                (await _create(b, factory, channel="CALLCENTER", is_active="true")).text
            )
        # The engine's deactivations are tested in tests/dispatch; here the page shows them.
        async with factory.db.sessionmaker() as session:
            for config_id, reason in ((gone, "HTTP_410"), (broken, "CONSECUTIVE_FAILURES")):
                await session.execute(
                    update(DispatchConfig)
                    .where(DispatchConfig.id == uuid.UUID(config_id))
                    .values(is_active=False, deactivated_reason=reason, deactivated_at=utcnow())
                )
            await session.commit()
        async with browser(app) as b:
            await b.login(world.admin_email)
            listed = await b.get(PATH)
            gone_page = await b.get(f"{PATH}/{gone}")
            broken_page = await b.get(f"{PATH}/{broken}")
        banners = re.findall(r'<div class="alert alert-error banner" role="alert">', listed.text)
        assert len(banners) == 2
        assert "SALESMAN · WEBHOOK was deactivated" in listed.text
        assert "answered 410 Gone" in listed.text and "circuit breaker" in listed.text
        assert "Deactivated automatically" in gone_page.text and "410 Gone" in gone_page.text
        assert "stopped: 410 Gone" in gone_page.text
        assert "Deactivated automatically" in broken_page.text
        assert "50 activities in a row exhausted their retries" in broken_page.text


class TestAccess:
    async def test_read_only_roles_see_no_write_button_and_are_refused_posting(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as admin:
            await admin.login(world.admin_email)
            config_id = _config_id((await _create(admin, factory)).text)
        webhook = str(await provider_id(factory.db, "WEBHOOK"))
        for role in (Role.VIEWER, Role.FDE):
            _, email = await factory.user(world, [role.value])
            async with browser(app) as b:
                await b.login(email)
                home = await b.get("/")
                listed = await b.get(PATH)
                detail = await b.get(f"{PATH}/{config_id}")
                new = await b.get(f"{PATH}/new")
                await b.get(PATH)
                posts = [
                    await b.post(
                        PATH,
                        {
                            "dispatch_provider_id": webhook,
                            "channel": "SMS",
                            "base_url": "https://x.example.com",
                        },
                    ),
                    await b.post(f"{PATH}/{config_id}", {"base_url": "https://x.example.com"}),
                    await b.post(f"{PATH}/{config_id}/activate", {"confirm": "yes"}),
                    await b.post(f"{PATH}/{config_id}/deactivate", {"confirm": "yes"}),
                    await b.post(f"{PATH}/{config_id}/test", {}),
                    await b.post(f"{PATH}/{config_id}/rotate-secret", {"confirm": "yes"}),
                ]
            assert 'href="/dispatch-configs"' in home.text  # the menu entry: they may read
            assert listed.status_code == 200 and "New configuration" not in listed.text
            assert "Configure</a>" not in listed.text
            assert detail.status_code == 200 and "Attempt log" in detail.text
            assert "<button" not in detail.text.split("</header>")[1].split("Attempt log")[0]
            assert "credential_bearerToken" not in detail.text
            assert new.status_code == 403 and "<h1>Not allowed</h1>" in new.text
            for posted in posts:
                assert posted.status_code == 403 and "<h1>Not allowed</h1>" in posted.text
        async with factory.db.sessionmaker() as session:
            config = await session.get(DispatchConfig, uuid.UUID(config_id))
            assert config is not None and config.base_url == "https://hooks.example.com/reten"

    async def test_a_config_of_another_tenant_is_not_found_by_url(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with browser(app) as other:
            await other.login(theirs.admin_email)
            their_id = _config_id((await _create(other, factory)).text)
        async with browser(app) as b:
            await b.login(mine.admin_email)
            responses = [
                await b.get(f"{PATH}/{their_id}"),
                await b.get(f"{PATH}/{their_id}", headers={"hx-request": "true"}),
            ]
            await b.get(PATH)
            for action, body in (
                ("", {"base_url": "https://mine.example.com"}),
                ("/activate", {"confirm": "yes"}),
                ("/deactivate", {"confirm": "yes"}),
                ("/test", {}),
                ("/rotate-secret", {"confirm": "yes"}),
                ("/rotate-secret", {}),
            ):
                responses.append(await b.post(f"{PATH}/{their_id}{action}", body))
            listed = await b.get(PATH)
        for response in responses:
            assert response.status_code == 404, response.url
            assert "Not found" in response.text and SECRET.search(response.text) is None
        assert their_id not in listed.text

    async def test_a_form_without_its_csrf_token_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            config_id = _config_id((await _create(b, factory)).text)
            await b.get(PATH)
            body = {
                "dispatch_provider_id": str(await provider_id(factory.db, "WEBHOOK")),
                "channel": "SMS",
                "base_url": "https://hooks.example.com/sms",
            }
            refused = await b.post(PATH, body, csrf=False)
            rotate = await b.post(
                f"{PATH}/{config_id}/rotate-secret", {"confirm": "yes"}, csrf=False
            )
            listed = await b.get(PATH)
        assert refused.status_code == 403 and "did not come from this site" in refused.text
        assert rotate.status_code == 403 and SECRET.search(rotate.text) is None
        assert listed.text.count("Not configured") == 5  # only the first config exists
