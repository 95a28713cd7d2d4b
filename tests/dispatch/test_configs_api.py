"""Dispatch providers and dispatch configs over HTTP (management-api.md §14.2–14.12)."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from reten.dispatch.models import DispatchConfig, DispatchProvider
from reten.dispatch.service import open_config_secrets
from reten.kit import signal
from reten.kit.casing import to_snake
from reten.kit.db import Database
from reten.kit.secretbox import SecretBox
from reten.kit.time import parse_iso, utcnow
from tests.dispatch.makers import (
    CONFIGS,
    HOOK_URL,
    YOM_URL,
    Caller,
    admin,
    config_body,
    create_config,
    member,
    provider_id,
)
from tests.factories import Factory

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TAKEN = "channel already has an active dispatch config"
DEFAULT_SETTINGS = {
    "timeoutSeconds": 10,
    "retrySchedule": [0, 30, 300],
    "maxConcurrency": 4,
    "disableAfterConsecutiveFailures": 50,
}
CONFIG_KEYS = {
    "id", "dispatchProviderId", "channel", "baseUrl", "settings", "isActive", "hasCredentials",
    "credentialKeys", "hasSigningSecret", "previousSecretExpiresAt", "consecutiveFailures",
    "deactivatedReason", "deactivatedAt", "dispatchProvider", "createdAt", "updatedAt",
}  # fmt: skip
CHANNELS = ["CALLCENTER", "EMAIL", "PUSH", "SALESMAN", "SMS", "WHATSAPP"]


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


def is_signing_secret(value: str) -> bool:
    return value.startswith("whsec_") and len(base64.b64decode(value[6:], validate=True)) == 32


@pytest.fixture
def secretbox(app: Any) -> SecretBox:
    return app.state.runtime.secretbox  # type: ignore[no-any-return]


async def stored(db: Database, config_id: str) -> DispatchConfig:
    async with db.sessionmaker() as session:
        config = await session.get(DispatchConfig, uuid.UUID(config_id))
        assert config is not None
        return config


async def configs_in(db: Database, caller: Caller) -> int:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(DispatchConfig.id).where(DispatchConfig.tenant_id == caller.world.tenant_id)
        )
        return len(rows.all())


class TestProviders:
    async def test_list_is_ordered_by_code_with_every_channel_defined(
        self, factory: Factory
    ) -> None:
        viewer = await member(factory, (await admin(factory)).world, "VIEWER")
        response = await viewer.get("/api/dispatch-providers")
        assert response.status_code == 200, response.text
        providers = response.json()
        assert [p["code"] for p in providers] == ["MOCK", "WEBHOOK", "YOM"]
        by_code = {p["code"]: p for p in providers}
        assert {k: by_code["YOM"][k] for k in ("name", "protocolType", "isActive")} == {
            "name": "YOM Provider",
            "protocolType": "REST",
            "isActive": True,
        }
        assert (by_code["MOCK"]["name"], by_code["MOCK"]["protocolType"]) == (
            "Mock Provider",
            "NONE",
        )
        assert (by_code["WEBHOOK"]["name"], by_code["WEBHOOK"]["protocolType"]) == (
            "Webhook",
            "REST",
        )
        for provider in providers:
            assert set(provider) == {
                "id", "code", "name", "protocolType", "isActive", "channelDefinitions",
            }  # fmt: skip
            assert [d["channel"] for d in provider["channelDefinitions"]] == CHANNELS
            assert all(
                set(d) == {"channel", "credentialSchema", "settingsSchema"}
                for d in provider["channelDefinitions"]
            )
        yom = by_code["YOM"]["channelDefinitions"][0]
        assert yom["credentialSchema"] == [
            {"key": "apiKey", "label": "API Key", "type": "password", "required": True}
        ]
        assert yom["settingsSchema"] == []
        assert by_code["MOCK"]["channelDefinitions"][0]["credentialSchema"] == []
        assert by_code["WEBHOOK"]["channelDefinitions"][0]["credentialSchema"] == [
            {"key": "bearerToken", "label": "Bearer token", "type": "password", "required": False}
        ]

    async def test_channel_definitions_of_one_provider(self, factory: Factory) -> None:
        caller = await admin(factory)
        yom_id = str(await provider_id(caller.db, "YOM"))
        response = await caller.get(f"/api/dispatch-providers/{yom_id}/channel-definitions")
        assert response.status_code == 200, response.text
        definitions = response.json()
        assert [d["channel"] for d in definitions] == CHANNELS
        for definition in definitions:
            assert set(definition) == {
                "id", "dispatchProviderId", "channel", "credentialSchema", "settingsSchema",
                "createdAt", "updatedAt",
            }  # fmt: skip
            assert definition["dispatchProviderId"] == yom_id
            assert definition["credentialSchema"][0]["key"] == "apiKey"
            assert TIMESTAMP.match(definition["createdAt"])

    async def test_unknown_provider_is_404_and_a_malformed_id_400(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.get(f"/api/dispatch-providers/{uuid.uuid4()}/channel-definitions")
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch provider not found"
        response = await caller.get("/api/dispatch-providers/nope/channel-definitions")
        assert response.status_code == 400
        assert fields(response) == ["id"]


class TestCreate:
    async def test_yom_config_shape_with_defaults(self, factory: Factory) -> None:
        caller = await admin(factory)
        yom_id = str(await provider_id(caller.db, "YOM"))
        body = await create_config(caller, "YOM")
        assert set(body) == CONFIG_KEYS
        assert body["dispatchProviderId"] == yom_id
        assert body["dispatchProvider"] == {"id": yom_id, "code": "YOM", "name": "YOM Provider"}
        assert body["channel"] == "SALESMAN"
        assert body["baseUrl"] == YOM_URL
        assert body["settings"] == DEFAULT_SETTINGS
        assert body["isActive"] is True
        assert (body["hasCredentials"], body["credentialKeys"]) == (True, ["apiKey"])
        assert body["hasSigningSecret"] is False
        assert body["previousSecretExpiresAt"] is None
        assert (body["consecutiveFailures"], body["deactivatedReason"]) == (0, None)
        assert body["deactivatedAt"] is None
        assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["updatedAt"])
        uuid.UUID(body["id"])

    async def test_settings_are_stored_complete_snake_case(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await create_config(
            caller, "MOCK", settings={"timeout_seconds": 5, "retrySchedule": [0, 60]}
        )
        assert body["settings"] == {
            **DEFAULT_SETTINGS,
            "timeoutSeconds": 5,
            "retrySchedule": [0, 60],
        }
        config = await stored(caller.db, body["id"])
        assert config.settings == {
            "timeout_seconds": 5,
            "retry_schedule": [0, 60],
            "max_concurrency": 4,
            "disable_after_consecutive_failures": 50,
        }

    async def test_every_setting_at_its_bounds(self, factory: Factory) -> None:
        caller = await admin(factory)
        low = await create_config(
            caller, "MOCK", settings={
                "timeout_seconds": 1, "retry_schedule": [0], "max_concurrency": 1,
                "disable_after_consecutive_failures": 0,
            },
        )  # fmt: skip
        assert low["settings"] == {
            "timeoutSeconds": 1, "retrySchedule": [0], "maxConcurrency": 1,
            "disableAfterConsecutiveFailures": 0,
        }  # fmt: skip
        high = await create_config(
            caller, "MOCK", channel="SMS", settings={
                "timeoutSeconds": 30, "retrySchedule": [86400] * 10, "maxConcurrency": 32,
                "disableAfterConsecutiveFailures": 10000,
            },
        )  # fmt: skip
        assert high["settings"] == {
            "timeoutSeconds": 30, "retrySchedule": [86400] * 10, "maxConcurrency": 32,
            "disableAfterConsecutiveFailures": 10000,
        }  # fmt: skip

    async def test_webhook_config_returns_its_signing_secret_once(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        body = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "tok-1"})
        assert set(body) == CONFIG_KEYS | {"signingSecret"}
        assert is_signing_secret(body["signingSecret"])
        assert body["hasSigningSecret"] is True
        assert body["credentialKeys"] == ["bearerToken"]
        again = (await caller.get(f"{CONFIGS}/{body['id']}")).json()
        assert "signingSecret" not in again and again["hasSigningSecret"] is True
        config = await stored(caller.db, body["id"])
        credentials, secrets = open_config_secrets(secretbox, config, utcnow())
        assert credentials == {"bearerToken": "tok-1"}
        assert secrets == (body["signingSecret"],)

    async def test_a_webhook_without_credentials(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await create_config(caller, "WEBHOOK")
        assert (body["hasCredentials"], body["credentialKeys"]) == (False, [])
        empty = await create_config(caller, "WEBHOOK", channel="SMS", credentials={})
        assert (empty["hasCredentials"], empty["credentialKeys"]) == (False, [])

    async def test_mock_needs_no_base_url_and_stores_one_given(self, factory: Factory) -> None:
        caller = await admin(factory)
        plain = await create_config(caller, "MOCK")
        assert plain["baseUrl"] is None and plain["hasCredentials"] is False
        assert "signingSecret" not in plain
        with_url = await create_config(
            caller, "MOCK", channel="EMAIL", base_url="http://mock.example.com"
        )
        assert with_url["baseUrl"] == "http://mock.example.com"
        nulled = await create_config(caller, "MOCK", channel="SMS", base_url=None)
        assert nulled["baseUrl"] is None

    async def test_camel_case_fields_are_accepted_and_snake_case_wins(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        body = {
            "dispatchProviderId": str(await provider_id(caller.db, "YOM")),
            "channel": "WHATSAPP",
            "baseUrl": "https://camel.example.com",
            "base_url": "https://snake.example.com",
            "credentials": {"apiKey": "k"},
            "settings": {"maxConcurrency": 8, "disableAfterConsecutiveFailures": 3},
            "isActive": False,
        }
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["baseUrl"] == "https://snake.example.com"
        assert created["settings"]["maxConcurrency"] == 8
        assert created["settings"]["disableAfterConsecutiveFailures"] == 3
        assert created["isActive"] is False

    async def test_base_url_is_trimmed(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await create_config(caller, "YOM", base_url="  https://yom.example.com  ")
        assert body["baseUrl"] == "https://yom.example.com"

    async def test_an_inactive_config_starts_without_a_deactivation_reason(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        body = await create_config(caller, "YOM", is_active=False)
        assert body["isActive"] is False
        assert (body["deactivatedReason"], body["deactivatedAt"]) == (None, None)

    async def test_a_credential_value_is_stored_verbatim(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        body = await create_config(caller, "YOM", credentials={"apiKey": "  spaced  "})
        config = await stored(caller.db, body["id"])
        assert open_config_secrets(secretbox, config, utcnow())[0] == {"apiKey": "  spaced  "}

    @pytest.mark.parametrize(
        ("code", "change", "field"),
        [
            ("YOM", {"dispatch_provider_id": None}, "dispatch_provider_id"),
            ("YOM", {"dispatch_provider_id": "not-a-uuid"}, "dispatch_provider_id"),
            ("YOM", {"dispatch_provider_id": 12}, "dispatch_provider_id"),
            ("YOM", {"channel": "FAX"}, "channel"),
            ("YOM", {"channel": "salesman"}, "channel"),
            ("YOM", {"channel": None}, "channel"),
            ("YOM", {"base_url": "ftp://files.example.com"}, "base_url"),
            ("YOM", {"base_url": "/relative/path"}, "base_url"),
            ("YOM", {"base_url": "https://"}, "base_url"),
            ("YOM", {"base_url": "https://exa mple.com"}, "base_url"),
            ("YOM", {"base_url": "https://example.com:99999"}, "base_url"),
            ("YOM", {"base_url": "https://user:pw@example.com"}, "base_url"),
            ("YOM", {"base_url": "https://example.com/" + "a" * 2030}, "base_url"),
            ("YOM", {"base_url": ""}, "base_url"),
            ("YOM", {"base_url": 42}, "base_url"),
            ("YOM", {"baseUrl": "mailto:x@example.com"}, "baseUrl"),
            ("YOM", {"credentials": "apiKey=x"}, "credentials"),
            ("YOM", {"credentials": ["x"]}, "credentials"),
            ("YOM", {"credentials": {"apiKey": 12}}, "credentials.apiKey"),
            ("YOM", {"credentials": {"apiKey": ""}}, "credentials.apiKey"),
            ("YOM", {"credentials": {"apiKey": "k" * 4097}}, "credentials.apiKey"),
            ("YOM", {"credentials": {"apiKey": "a\r\nx-evil: 1"}}, "credentials.apiKey"),
            ("YOM", {"credentials": {"apiKey": None}}, "credentials.apiKey"),
            ("YOM", {"credentials": {"apiKey": "a\x00b"}}, "credentials.apiKey"),
            ("YOM", {"credentials": None}, "credentials"),
            ("YOM", {"settings": None}, "settings"),
            ("YOM", {"settings": [1]}, "settings"),
            ("YOM", {"settings": {"retries": 3}}, "settings.retries"),
            ("YOM", {"settings": {"timeout_seconds": 0}}, "settings.timeout_seconds"),
            ("YOM", {"settings": {"timeout_seconds": 31}}, "settings.timeout_seconds"),
            ("YOM", {"settings": {"timeoutSeconds": "10"}}, "settings.timeoutSeconds"),
            ("YOM", {"settings": {"timeout_seconds": 10.5}}, "settings.timeout_seconds"),
            ("YOM", {"settings": {"timeout_seconds": True}}, "settings.timeout_seconds"),
            ("YOM", {"settings": {"timeout_seconds": None}}, "settings.timeout_seconds"),
            ("YOM", {"settings": {"retry_schedule": []}}, "settings.retry_schedule"),
            ("YOM", {"settings": {"retry_schedule": [0] * 11}}, "settings.retry_schedule"),
            ("YOM", {"settings": {"retry_schedule": [0, -1]}}, "settings.retry_schedule[1]"),
            ("YOM", {"settings": {"retry_schedule": [86401]}}, "settings.retry_schedule[0]"),
            ("YOM", {"settings": {"retry_schedule": [0, "30"]}}, "settings.retry_schedule[1]"),
            ("YOM", {"settings": {"retry_schedule": 30}}, "settings.retry_schedule"),
            ("YOM", {"settings": {"retrySchedule": None}}, "settings.retrySchedule"),
            ("YOM", {"settings": {"max_concurrency": 0}}, "settings.max_concurrency"),
            ("YOM", {"settings": {"max_concurrency": 33}}, "settings.max_concurrency"),
            (
                "YOM",
                {"settings": {"disable_after_consecutive_failures": -1}},
                "settings.disable_after_consecutive_failures",
            ),
            (
                "YOM",
                {"settings": {"disableAfterConsecutiveFailures": 10001}},
                "settings.disableAfterConsecutiveFailures",
            ),
            ("YOM", {"is_active": "yes"}, "is_active"),
            ("YOM", {"is_active": 1}, "is_active"),
            ("YOM", {"is_active": None}, "is_active"),
            ("WEBHOOK", {"base_url": "https://hooks.example.com/\x00"}, "base_url"),
            ("MOCK", {"base_url": "not a url"}, "base_url"),
        ],
    )
    async def test_invalid_input_is_400_naming_the_field(
        self, factory: Factory, code: str, change: dict[str, Any], field: str
    ) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, code)
        for key in change:  # a camelCase key must not be shadowed by the snake_case default
            body.pop(to_snake(key), None)
        body.update(change)
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 400, response.text
        payload = response.json()
        assert (payload["statusCode"], payload["error"]) == (400, "Bad Request")
        assert field in fields(response), payload
        assert await configs_in(caller.db, caller) == 0

    @pytest.mark.parametrize(
        ("code", "change", "field", "message"),
        [
            ("YOM", {"base_url": None}, "base_url", "is required for provider YOM"),
            ("WEBHOOK", {"base_url": None}, "base_url", "is required for provider WEBHOOK"),
            ("YOM", {"credentials": {}}, "credentials.apiKey", "is required"),
            (
                "YOM",
                {"credentials": {"apiKey": "k", "api_key": "k"}},
                "credentials.api_key",
                "is not a credential of this provider (expected apiKey)",
            ),
            (
                "YOM",
                {"credentials": {"bearerToken": "k"}},
                "credentials.bearerToken",
                "is not a credential of this provider (expected apiKey)",
            ),
            (
                "MOCK",
                {"credentials": {"token": "x"}},
                "credentials.token",
                "is not a credential of this provider (it takes none)",
            ),
        ],
    )
    async def test_provider_rules_are_400(
        self, factory: Factory, code: str, change: dict[str, Any], field: str, message: str
    ) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, code)
        body.update(change)
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 400, response.text
        assert {"field": field, "message": message} in response.json()["details"]
        assert await configs_in(caller.db, caller) == 0

    async def test_missing_credentials_name_the_required_key(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, "YOM")
        del body["credentials"]
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 400
        assert response.json()["message"] == "credentials.apiKey is required"

    async def test_every_problem_is_listed_together(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.post(
            CONFIGS,
            {
                "channel": "FAX",
                "baseUrl": "ftp://x",
                "settings": {"timeoutSeconds": 99, "bogus": 1, "retrySchedule": [-5, 0]},
            },
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Validation failed"
        assert set(fields(response)) == {
            "dispatch_provider_id", "channel", "baseUrl", "settings.timeoutSeconds",
            "settings.bogus", "settings.retrySchedule[0]",
        }  # fmt: skip

    async def test_an_unknown_setting_names_the_known_ones(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.post(
            CONFIGS, await config_body(caller.db, "MOCK", settings={"retries": 3})
        )
        assert response.json()["details"] == [
            {
                "field": "settings.retries",
                "message": "is not a known setting (timeout_seconds, retry_schedule, "
                "max_concurrency, disable_after_consecutive_failures)",
            }
        ]

    @pytest.mark.parametrize("raw", [b"[]", b'"x"', b"42", b"null", b"{not json", b"\xff\xfe"])
    async def test_a_body_that_is_not_a_json_object_is_400(
        self, factory: Factory, raw: bytes
    ) -> None:
        caller = await admin(factory)
        response = await caller.send("POST", CONFIGS, raw)
        assert response.status_code == 400, response.text
        assert response.json()["message"] == "Malformed JSON body"

    async def test_nul_in_a_credential_key_is_400(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, "WEBHOOK", credentials={"bearer\x00Token": "x"})
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 400
        assert "credentials.bearer\x00Token" in fields(response)

    async def test_unknown_provider_is_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, "YOM", dispatch_provider_id=str(uuid.uuid4()))
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch provider not found"

    async def test_body_syntax_is_checked_before_the_provider(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(
            caller.db, "YOM", dispatch_provider_id=str(uuid.uuid4()), settings={"x": 1}
        )
        response = await caller.post(CONFIGS, body)
        assert response.status_code == 400
        assert fields(response) == ["settings.x"]

    async def test_an_inactive_provider_is_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, "YOM")
        async with caller.db.sessionmaker() as session:
            await session.execute(
                update(DispatchProvider)
                .where(DispatchProvider.code == "YOM")
                .values(is_active=False)
            )
            await session.commit()
        try:
            response = await caller.post(CONFIGS, body)
        finally:
            async with caller.db.sessionmaker() as session:
                await session.execute(
                    update(DispatchProvider)
                    .where(DispatchProvider.code == "YOM")
                    .values(is_active=True)
                )
                await session.commit()
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch provider not found"

    async def test_writes_need_manage_activity_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        fde = await member(factory, caller.world, "FDE")
        response = await fde.post(CONFIGS, await config_body(caller.db, "MOCK"))
        assert response.status_code == 403
        assert response.json()["message"] == (
            "Insufficient permissions: requires MANAGE_ACTIVITY_CONFIG"
        )
        assert (await fde.get(CONFIGS)).status_code == 200


class TestRuleOneActivePerChannel:
    async def test_a_second_active_config_on_a_channel_is_409(self, factory: Factory) -> None:
        caller = await admin(factory)
        first = await create_config(caller, "YOM")
        response = await caller.post(CONFIGS, await config_body(caller.db, "WEBHOOK"))
        assert response.status_code == 409
        assert response.json() == {"statusCode": 409, "error": "Conflict", "message": TAKEN}
        listed = (await caller.get(CONFIGS)).json()
        assert [c["id"] for c in listed] == [first["id"]]

    async def test_inactive_configs_and_other_channels_and_tenants_do_not_count(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        await create_config(caller, "YOM")
        await create_config(caller, "WEBHOOK", is_active=False)
        await create_config(caller, "MOCK", is_active=False)
        await create_config(caller, "MOCK", channel="WHATSAPP")
        other = await admin(factory)
        await create_config(other, "YOM")
        assert len((await caller.get(CONFIGS)).json()) == 4

    async def test_concurrent_creates_leave_one_active_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        body = await config_body(caller.db, "MOCK", channel="PUSH")
        responses = await asyncio.gather(*(caller.post(CONFIGS, body) for _ in range(6)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        assert all(r.json()["message"] == TAKEN for r in responses if r.status_code == 409)
        assert await configs_in(caller.db, caller) == 1

    async def test_activating_a_second_config_is_409(self, factory: Factory) -> None:
        caller = await admin(factory)
        await create_config(caller, "YOM")
        spare = await create_config(caller, "WEBHOOK", is_active=False)
        response = await caller.post(f"{CONFIGS}/{spare['id']}/activate")
        assert response.status_code == 409
        assert response.json()["message"] == TAKEN
        assert (await caller.get(f"{CONFIGS}/{spare['id']}")).json()["isActive"] is False
        response = await caller.patch(f"{CONFIGS}/{spare['id']}", {"is_active": True})
        assert response.status_code == 409
        assert response.json()["message"] == TAKEN

    async def test_concurrent_activations_leave_one_active_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        ids = [
            (await create_config(caller, "MOCK", channel="EMAIL", is_active=False))["id"]
            for _ in range(4)
        ]
        responses = await asyncio.gather(
            *(caller.post(f"{CONFIGS}/{config_id}/activate") for config_id in ids)
        )
        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
        active = (await caller.get(CONFIGS, is_active="true")).json()
        assert len(active) == 1

    async def test_a_deleted_config_frees_its_channel(self, factory: Factory) -> None:
        caller = await admin(factory)
        first = await create_config(caller, "YOM")
        assert (await caller.delete(f"{CONFIGS}/{first['id']}")).status_code == 204
        await create_config(caller, "WEBHOOK")

    async def test_switching_providers_by_deactivating_first(self, factory: Factory) -> None:
        caller = await admin(factory)
        old = await create_config(caller, "YOM")
        new = await create_config(caller, "WEBHOOK", is_active=False)
        assert (await caller.post(f"{CONFIGS}/{old['id']}/deactivate")).status_code == 200
        response = await caller.post(f"{CONFIGS}/{new['id']}/activate")
        assert response.status_code == 200
        assert response.json()["isActive"] is True


class TestReadAndList:
    async def test_list_orders_by_channel_then_creation_and_filters(self, factory: Factory) -> None:
        caller = await admin(factory)
        sms = await create_config(caller, "MOCK", channel="SMS")
        salesman_1 = await create_config(caller, "YOM")
        email = await create_config(caller, "MOCK", channel="EMAIL", is_active=False)
        salesman_2 = await create_config(caller, "WEBHOOK", is_active=False)
        listed = (await caller.get(CONFIGS)).json()
        assert [c["id"] for c in listed] == [
            email["id"], salesman_1["id"], salesman_2["id"], sms["id"],
        ]  # fmt: skip
        assert all(set(c) == CONFIG_KEYS for c in listed)
        only = (await caller.get(CONFIGS, channel="SALESMAN")).json()
        assert [c["id"] for c in only] == [salesman_1["id"], salesman_2["id"]]
        active = (await caller.get(CONFIGS, is_active="TRUE")).json()
        assert [c["id"] for c in active] == [salesman_1["id"], sms["id"]]
        inactive = (await caller.get(CONFIGS, channel="SALESMAN", is_active="false")).json()
        assert [c["id"] for c in inactive] == [salesman_2["id"]]
        assert (await caller.get(CONFIGS, channel="PUSH")).json() == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"channel": "FAX"}, "channel"), ({"channel": "sms"}, "channel"),
         ({"is_active": "yes"}, "is_active")],
    )  # fmt: skip
    async def test_bad_filters_are_400(
        self, factory: Factory, params: dict[str, str], field: str
    ) -> None:
        caller = await admin(factory)
        response = await caller.get(CONFIGS, **params)
        assert response.status_code == 400
        assert fields(response) == [field]

    async def test_a_viewer_reads_one_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        viewer = await member(factory, caller.world, "VIEWER")
        response = await viewer.get(f"{CONFIGS}/{created['id']}")
        assert response.status_code == 200
        assert response.json() == created
        assert (await viewer.post(f"{CONFIGS}/{created['id']}/deactivate")).status_code == 403

    async def test_unknown_and_malformed_ids(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.get(f"{CONFIGS}/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch config not found"
        response = await caller.get(f"{CONFIGS}/123")
        assert response.status_code == 400 and fields(response) == ["id"]

    async def test_another_tenants_config_is_invisible(self, factory: Factory) -> None:
        owner = await admin(factory)
        created = await create_config(owner, "YOM")
        intruder = await admin(factory)
        path = f"{CONFIGS}/{created['id']}"
        for response in (
            await intruder.get(path),
            await intruder.patch(path, {"base_url": HOOK_URL}),
            await intruder.delete(path),
            await intruder.post(path + "/activate"),
            await intruder.post(path + "/deactivate"),
            await intruder.post(path + "/rotate-secret"),
            await intruder.get(path + "/attempts"),
        ):
            assert response.status_code == 404, response.text
        assert (await intruder.get(CONFIGS)).json() == []
        assert (await owner.get(path)).json()["isActive"] is True


class TestUpdate:
    async def test_base_url_and_settings_merge_key_by_key(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(
            caller, "YOM", settings={"timeout_seconds": 20, "retry_schedule": [0, 5, 50]}
        )
        path = f"{CONFIGS}/{created['id']}"
        response = await caller.patch(
            path,
            {"baseUrl": "https://new.example.com", "settings": {"maxConcurrency": 8,
             "retry_schedule": [10]}},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["baseUrl"] == "https://new.example.com"
        assert body["settings"] == {
            "timeoutSeconds": 20, "retrySchedule": [10], "maxConcurrency": 8,
            "disableAfterConsecutiveFailures": 50,
        }  # fmt: skip
        assert (await stored(caller.db, created["id"])).settings == {
            "timeout_seconds": 20, "retry_schedule": [10], "max_concurrency": 8,
            "disable_after_consecutive_failures": 50,
        }  # fmt: skip
        assert (await caller.get(path)).json() == body

    async def test_credentials_are_replaced_as_a_whole(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "old"})
        path = f"{CONFIGS}/{created['id']}"
        response = await caller.patch(path, {"credentials": {"bearerToken": "new-token"}})
        assert response.status_code == 200, response.text
        config = await stored(caller.db, created["id"])
        assert open_config_secrets(secretbox, config, utcnow())[0] == {"bearerToken": "new-token"}
        # The signing secret is untouched by a credentials change.
        assert open_config_secrets(secretbox, config, utcnow())[1] == (created["signingSecret"],)

    async def test_credentials_null_clears_them_only_without_required_keys(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        hook = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "t"})
        response = await caller.patch(f"{CONFIGS}/{hook['id']}", {"credentials": None})
        assert response.status_code == 200, response.text
        assert (response.json()["hasCredentials"], response.json()["credentialKeys"]) == (
            False,
            [],
        )
        config = await stored(caller.db, hook["id"])
        assert config.credentials_encrypted is None
        assert open_config_secrets(secretbox, config, utcnow())[0] == {}

        yom = await create_config(caller, "YOM", channel="SMS")
        response = await caller.patch(f"{CONFIGS}/{yom['id']}", {"credentials": None})
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "credentials", "message": "cannot be cleared: apiKey is required"}
        ]
        assert (await caller.get(f"{CONFIGS}/{yom['id']}")).json()["hasCredentials"] is True

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"credentials": {}}, "credentials.apiKey"),
            ({"credentials": {"apiKey": "k", "extra": "x"}}, "credentials.extra"),
            ({"credentials": {"apiKey": ""}}, "credentials.apiKey"),
            ({"credentials": "k"}, "credentials"),
            ({"base_url": None}, "base_url"),
            ({"baseUrl": "ftp://x.example.com"}, "baseUrl"),
            ({"settings": None}, "settings"),
            ({"settings": {"timeout_seconds": 0}}, "settings.timeout_seconds"),
            ({"settings": {"nope": 1}}, "settings.nope"),
            ({"is_active": None}, "is_active"),
            ({"is_active": "true"}, "is_active"),
            ({"dispatch_provider_id": str(uuid.uuid4())}, "dispatch_provider_id"),
            ({"dispatchProviderId": str(uuid.uuid4())}, "dispatchProviderId"),
            ({"channel": "SALESMAN"}, "channel"),
        ],
    )
    async def test_invalid_patches_are_400_and_change_nothing(
        self, factory: Factory, change: dict[str, Any], field: str
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        response = await caller.patch(f"{CONFIGS}/{created['id']}", change)
        assert response.status_code == 400, response.text
        assert field in fields(response)
        assert (await caller.get(f"{CONFIGS}/{created['id']}")).json() == created

    async def test_immutable_fields_are_named_with_other_problems(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        response = await caller.patch(
            f"{CONFIGS}/{created['id']}",
            {"channel": "SMS", "dispatch_provider_id": created["dispatchProviderId"],
             "settings": {"maxConcurrency": 0}},
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "dispatch_provider_id", "message": "is immutable"},
            {"field": "channel", "message": "is immutable"},
            {"field": "settings.maxConcurrency", "message": "must be an integer between 1 and 32"},
        ]

    async def test_mock_base_url_may_be_cleared(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "MOCK", base_url="https://m.example.com")
        response = await caller.patch(f"{CONFIGS}/{created['id']}", {"base_url": None})
        assert response.status_code == 200
        assert response.json()["baseUrl"] is None

    async def test_an_empty_patch_changes_nothing(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        response = await caller.patch(f"{CONFIGS}/{created['id']}", {})
        assert response.status_code == 200
        assert response.json() == created
        same = await caller.patch(
            f"{CONFIGS}/{created['id']}", {"settings": {"timeout_seconds": 10}}
        )
        assert same.json()["updatedAt"] == created["updatedAt"]

    async def test_is_active_switches_like_activate_and_deactivate(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        path = f"{CONFIGS}/{created['id']}"
        off = (await caller.patch(path, {"is_active": False})).json()
        assert (off["isActive"], off["deactivatedReason"]) == (False, "MANUAL")
        assert TIMESTAMP.match(off["deactivatedAt"])
        async with caller.db.sessionmaker() as session:
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(created["id"]))
                .values(consecutive_failures=7)
            )
            await session.commit()
        on = (await caller.patch(path, {"isActive": True})).json()
        assert (on["isActive"], on["deactivatedReason"], on["deactivatedAt"]) == (True, None, None)
        assert on["consecutiveFailures"] == 0

    async def test_unknown_and_deleted_configs_are_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.patch(f"{CONFIGS}/{uuid.uuid4()}", {"base_url": HOOK_URL})
        assert response.status_code == 404
        assert response.json()["message"] == "Dispatch config not found"

    async def test_body_syntax_is_checked_before_the_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.patch(f"{CONFIGS}/{uuid.uuid4()}", {"channel": "SMS"})
        assert response.status_code == 400


class TestActivateDeactivate:
    async def test_deactivate_records_a_manual_reason_and_is_harmless_twice(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        path = f"{CONFIGS}/{created['id']}"
        first = await caller.post(path + "/deactivate")
        assert first.status_code == 200, first.text
        body = first.json()
        assert set(body) == CONFIG_KEYS
        assert (body["isActive"], body["deactivatedReason"]) == (False, "MANUAL")
        assert abs(parse_iso(body["deactivatedAt"]) - utcnow()) < timedelta(minutes=1)
        second = await caller.post(path + "/deactivate", {"ignored": True})
        assert second.status_code == 200
        assert second.json() == body

    async def test_deactivating_keeps_an_automatic_reason(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK")
        at = utcnow() - timedelta(hours=1)
        async with caller.db.sessionmaker() as session:
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(created["id"]))
                .values(is_active=False, deactivated_reason="HTTP_410", deactivated_at=at)
            )
            await session.commit()
        body = (await caller.post(f"{CONFIGS}/{created['id']}/deactivate")).json()
        assert body["deactivatedReason"] == "HTTP_410"
        assert parse_iso(body["deactivatedAt"]) == at.replace(
            microsecond=at.microsecond // 1000 * 1000
        )

    async def test_activate_resets_the_circuit_breaker(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "YOM")
        async with caller.db.sessionmaker() as session:
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(created["id"]))
                .values(
                    is_active=False,
                    consecutive_failures=50,
                    deactivated_reason="CONSECUTIVE_FAILURES",
                    deactivated_at=utcnow(),
                )
            )
            await session.commit()
        listed = (await caller.get(f"{CONFIGS}/{created['id']}")).json()
        assert (listed["consecutiveFailures"], listed["deactivatedReason"]) == (
            50,
            "CONSECUTIVE_FAILURES",
        )
        response = await caller.post(f"{CONFIGS}/{created['id']}/activate")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["isActive"], body["consecutiveFailures"]) == (True, 0)
        assert (body["deactivatedReason"], body["deactivatedAt"]) == (None, None)
        again = await caller.post(f"{CONFIGS}/{created['id']}/activate")
        assert again.status_code == 200 and again.json()["isActive"] is True

    async def test_activation_wakes_the_dispatcher_after_the_commit(self, factory: Factory) -> None:
        caller = await admin(factory)
        woken: list[bool] = []
        unsubscribe = signal.subscribe(lambda: woken.append(True))
        try:
            created = await create_config(caller, "YOM", is_active=False)
            assert woken == []
            await caller.post(f"{CONFIGS}/{created['id']}/activate")
            assert woken == [True]
            await caller.post(f"{CONFIGS}/{created['id']}/deactivate")
            await caller.patch(f"{CONFIGS}/{created['id']}", {"is_active": True})
            assert woken == [True, True]
            await create_config(caller, "MOCK", channel="SMS")
            assert woken == [True, True, True]
            # A refused activation (409) rolls back and wakes nobody.
            refused = await caller.post(
                CONFIGS, await config_body(caller.db, "MOCK", channel="SMS")
            )
            assert refused.status_code == 409
            assert woken == [True, True, True]
        finally:
            unsubscribe()

    async def test_unknown_config_is_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        for action in ("activate", "deactivate", "rotate-secret"):
            response = await caller.post(f"{CONFIGS}/{uuid.uuid4()}/{action}")
            assert response.status_code == 404
            assert response.json()["message"] == "Dispatch config not found"


class TestRotateSecret:
    async def test_rotation_keeps_the_previous_secret_for_24_hours(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK")
        original = created["signingSecret"]
        path = f"{CONFIGS}/{created['id']}"
        response = await caller.post(path + "/rotate-secret")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == CONFIG_KEYS | {"signingSecret"}
        rotated = body["signingSecret"]
        assert is_signing_secret(rotated) and rotated != original
        expires = parse_iso(body["previousSecretExpiresAt"])
        assert abs(expires - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
        config = await stored(caller.db, created["id"])
        assert open_config_secrets(secretbox, config, utcnow())[1] == (rotated, original)
        assert config.previous_secret_expires_at is not None
        ends = config.previous_secret_expires_at
        assert open_config_secrets(secretbox, config, ends - timedelta(seconds=1))[1] == (
            rotated,
            original,
        )
        assert open_config_secrets(secretbox, config, ends)[1] == (rotated,)
        shown = (await caller.get(path)).json()
        assert "signingSecret" not in shown
        assert shown["previousSecretExpiresAt"] == body["previousSecretExpiresAt"]

    async def test_a_second_rotation_drops_the_oldest_secret(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK")
        path = f"{CONFIGS}/{created['id']}/rotate-secret"
        second = (await caller.post(path)).json()["signingSecret"]
        third = (await caller.post(path)).json()["signingSecret"]
        config = await stored(caller.db, created["id"])
        assert open_config_secrets(secretbox, config, utcnow())[1] == (third, second)

    async def test_an_expired_previous_secret_is_neither_shown_nor_used(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK")
        rotated = (await caller.post(f"{CONFIGS}/{created['id']}/rotate-secret")).json()
        async with caller.db.sessionmaker() as session:
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(created["id"]))
                .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        shown = (await caller.get(f"{CONFIGS}/{created['id']}")).json()
        assert shown["previousSecretExpiresAt"] is None
        config = await stored(caller.db, created["id"])
        assert open_config_secrets(secretbox, config, utcnow())[1] == (rotated["signingSecret"],)

    async def test_concurrent_rotations_never_hand_out_a_lost_secret(
        self, factory: Factory, secretbox: SecretBox
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK")
        path = f"{CONFIGS}/{created['id']}/rotate-secret"
        responses = await asyncio.gather(caller.post(path), caller.post(path))
        assert [r.status_code for r in responses] == [200, 200]
        handed = {r.json()["signingSecret"] for r in responses}
        config = await stored(caller.db, created["id"])
        live = set(open_config_secrets(secretbox, config, utcnow())[1])
        # One rotation ran after the other: both handed-out secrets still sign.
        assert live == handed

    @pytest.mark.parametrize("code", ["YOM", "MOCK"])
    async def test_only_webhook_configs_rotate(self, factory: Factory, code: str) -> None:
        caller = await admin(factory)
        created = await create_config(caller, code)
        response = await caller.post(f"{CONFIGS}/{created['id']}/rotate-secret")
        assert response.status_code == 400
        assert response.json()["message"] == (
            f"Only WEBHOOK configs have a signing secret; this config uses {code}"
        )
        assert (await caller.get(f"{CONFIGS}/{created['id']}")).json() == created

    async def test_rotation_works_on_an_inactive_config(self, factory: Factory) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK", is_active=False)
        response = await caller.post(f"{CONFIGS}/{created['id']}/rotate-secret")
        assert response.status_code == 200
        assert response.json()["isActive"] is False


class TestDelete:
    async def test_a_deleted_config_is_gone_everywhere_but_its_attempt_log(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "t"})
        keep = await create_config(caller, "MOCK", channel="SMS")
        path = f"{CONFIGS}/{created['id']}"
        response = await caller.delete(path)
        assert response.status_code == 204 and response.content == b""
        for response in (
            await caller.get(path),
            await caller.patch(path, {"base_url": HOOK_URL}),
            await caller.delete(path),
            await caller.post(path + "/activate"),
            await caller.post(path + "/deactivate"),
            await caller.post(path + "/rotate-secret"),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["message"] == "Dispatch config not found"
        assert [c["id"] for c in (await caller.get(CONFIGS)).json()] == [keep["id"]]
        assert (await caller.get(CONFIGS, is_active="false")).json() == []
        attempts = await caller.get(path + "/attempts")
        assert attempts.status_code == 200
        assert attempts.json()["data"] == []

    async def test_deletion_deactivates_and_drops_the_sealed_secrets(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        created = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "t"})
        await caller.post(f"{CONFIGS}/{created['id']}/rotate-secret")
        await caller.delete(f"{CONFIGS}/{created['id']}")
        config = await stored(caller.db, created["id"])
        assert config.is_active is False and config.deleted_at is not None
        assert (config.credentials_encrypted, config.signing_secret_encrypted) == (None, None)
        assert (config.previous_secret_encrypted, config.previous_secret_expires_at) == (
            None,
            None,
        )

    async def test_unknown_config_is_404(self, factory: Factory) -> None:
        caller = await admin(factory)
        response = await caller.delete(f"{CONFIGS}/{uuid.uuid4()}")
        assert response.status_code == 404


class TestSecretsNeverLeak:
    async def test_no_response_carries_a_credential_or_a_sealed_value(
        self, factory: Factory
    ) -> None:
        caller = await admin(factory)
        planted = {
            "yom": "PLANTED-yom-" + uuid.uuid4().hex,
            "hook": "PLANTED-hook-" + uuid.uuid4().hex,
        }
        yom = await caller.post(
            CONFIGS, await config_body(caller.db, "YOM", credentials={"apiKey": planted["yom"]})
        )
        hook = await caller.post(
            CONFIGS,
            await config_body(
                caller.db, "WEBHOOK", channel="SMS", credentials={"bearerToken": planted["hook"]}
            ),
        )
        yom_id, hook_id = yom.json()["id"], hook.json()["id"]
        responses = [yom, hook]
        responses.append(await caller.get(CONFIGS))
        responses.append(await caller.get(f"{CONFIGS}/{yom_id}"))
        responses.append(await caller.get(f"{CONFIGS}/{hook_id}"))
        responses.append(
            await caller.patch(f"{CONFIGS}/{yom_id}", {"credentials": {"apiKey": planted["yom"]}})
        )
        responses.append(await caller.patch(f"{CONFIGS}/{hook_id}", {"settings": {}}))
        responses.append(await caller.post(f"{CONFIGS}/{yom_id}/deactivate"))
        responses.append(await caller.post(f"{CONFIGS}/{yom_id}/activate"))
        rotated = await caller.post(f"{CONFIGS}/{hook_id}/rotate-secret")
        responses.append(rotated)
        responses.append(await caller.post(f"{CONFIGS}/{yom_id}/rotate-secret"))
        responses.append(
            await caller.patch(
                f"{CONFIGS}/{yom_id}", {"credentials": {"apiKey": planted["yom"], "x": "y"}}
            )
        )
        responses.append(await caller.get(f"{CONFIGS}/{hook_id}/attempts"))
        responses.append(await caller.get("/api/dispatch-providers"))
        responses.append(await caller.get("/openapi.json"))
        assert all(r.status_code < 500 for r in responses)

        yom_row = await stored(caller.db, yom_id)
        hook_row = await stored(caller.db, hook_id)
        sealed = [
            v
            for row in (yom_row, hook_row)
            for v in (
                row.credentials_encrypted,
                row.signing_secret_encrypted,
                row.previous_secret_encrypted,
            )
            if v is not None
        ]
        assert len(sealed) == 4
        first_secret = hook.json()["signingSecret"]
        for response in responses:
            for value in (*planted.values(), *sealed):
                assert value not in response.text
            if response is not hook:
                assert first_secret not in response.text
            if response is not rotated:
                assert rotated.json()["signingSecret"] not in response.text
        # At rest the credentials are sealed, not in clear.
        for row in (yom_row, hook_row):
            assert row.credentials_encrypted is not None
            assert not any(p in row.credentials_encrypted for p in planted.values())
        assert yom_row.credential_keys == ["apiKey"]
