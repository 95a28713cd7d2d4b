"""What the delivery engine reads of a config: `settings_of`, `open_config_secrets` and
`active_config` (dispatch/service.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import orjson
import pytest

from reten.activities.models import Channel
from reten.dispatch.models import DispatchConfig
from reten.dispatch.service import active_config, open_config_secrets, settings_of
from reten.kit.secretbox import SecretBox, SecretBoxError, derive_key
from reten.kit.time import utcnow
from tests.dispatch.makers import CONFIGS, admin, create_config
from tests.factories import Factory

BOX = SecretBox(derive_key("engine-view-tests"))


def config(**values: Any) -> DispatchConfig:
    values.setdefault("settings", {})
    return DispatchConfig(id=uuid.uuid4(), channel="SALESMAN", **values)


class TestSettingsOf:
    def test_defaults_fill_whatever_was_never_stored(self) -> None:
        assert settings_of(config(settings={"max_concurrency": 2})) == {
            "timeout_seconds": 10,
            "retry_schedule": [0, 30, 300],
            "max_concurrency": 2,
            "disable_after_consecutive_failures": 50,
        }

    def test_each_call_returns_its_own_schedule(self) -> None:
        first = settings_of(config())
        first["retry_schedule"].append(9)
        assert settings_of(config())["retry_schedule"] == [0, 30, 300]

    def test_a_stored_complete_dict_is_returned_as_is(self) -> None:
        stored = {
            "timeout_seconds": 3,
            "retry_schedule": [5],
            "max_concurrency": 1,
            "disable_after_consecutive_failures": 0,
        }
        assert settings_of(config(settings=stored)) == stored


class TestOpenConfigSecrets:
    def test_nothing_sealed_opens_to_nothing(self) -> None:
        assert open_config_secrets(BOX, config(), utcnow()) == ({}, ())

    def test_credentials_and_the_current_secret(self) -> None:
        sealed = BOX.seal(orjson.dumps({"apiKey": "k-1"}).decode())
        item = config(credentials_encrypted=sealed, signing_secret_encrypted=BOX.seal("whsec_a"))
        assert open_config_secrets(BOX, item, utcnow()) == ({"apiKey": "k-1"}, ("whsec_a",))

    def test_the_previous_secret_signs_until_it_expires(self) -> None:
        now = utcnow()
        item = config(
            signing_secret_encrypted=BOX.seal("whsec_new"),
            previous_secret_encrypted=BOX.seal("whsec_old"),
            previous_secret_expires_at=now + timedelta(hours=1),
        )
        assert open_config_secrets(BOX, item, now)[1] == ("whsec_new", "whsec_old")
        later = now + timedelta(hours=1)
        assert open_config_secrets(BOX, item, later)[1] == ("whsec_new",)

    def test_a_value_sealed_with_another_key_is_refused(self) -> None:
        other = SecretBox(derive_key("another key"))
        item = config(credentials_encrypted=other.seal("{}"))
        with pytest.raises(SecretBoxError):
            open_config_secrets(BOX, item, utcnow())


class TestActiveConfig:
    async def test_the_channels_active_config_and_nothing_else(self, factory: Factory) -> None:
        caller = await admin(factory)
        tenant = caller.world.tenant_id
        await create_config(caller, "WEBHOOK", is_active=False)
        active = await create_config(caller, "YOM")
        await create_config(caller, "MOCK", channel="SMS", is_active=False)
        gone = await create_config(caller, "MOCK", channel="PUSH")
        await caller.delete(f"{CONFIGS}/{gone['id']}")
        other = await admin(factory)
        await create_config(other, "MOCK", channel="EMAIL")
        async with caller.db.sessionmaker() as session:
            found = await active_config(session, tenant, Channel.SALESMAN)
            assert found is not None and str(found.id) == active["id"]
            assert await active_config(session, tenant, "SMS") is None
            assert await active_config(session, tenant, "PUSH") is None
            assert await active_config(session, tenant, "EMAIL") is None
