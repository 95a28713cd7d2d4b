"""What the service offers the panel beyond the API: the attempt log's date range, and an update
that changes only the credentials it names (the panel's password inputs are never pre-filled)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from reten.dispatch import service
from reten.dispatch.models import DispatchConfig
from reten.dispatch.schemas import DispatchConfigUpdate
from reten.kit.actor import Actor
from reten.kit.errors import ValidationFailed
from reten.kit.pagination import PageParams
from reten.kit.secretbox import SecretBox
from reten.kit.time import utcnow
from tests.dispatch.makers import add_attempt, admin, create_config
from tests.factories import Factory


def _secretbox(app: object) -> SecretBox:
    return app.state.runtime.secretbox  # type: ignore[attr-defined,no-any-return]


class TestAttemptDateRange:
    async def test_from_is_inclusive_and_to_exclusive(self, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "WEBHOOK")
        activity = await factory.task(caller.world)
        base = utcnow().replace(microsecond=0) - timedelta(hours=3)
        ids = [
            await add_attempt(
                caller.db,
                caller.world,
                activity,
                config["id"],
                number=n,
                at=base + timedelta(hours=n),
            )
            for n in range(3)
        ]
        async with caller.db.sessionmaker() as session:
            rows, total, _ = await service.config_attempts(
                session,
                caller.world.tenant_id,
                uuid.UUID(config["id"]),
                service.AttemptFilters(
                    created_from=base + timedelta(hours=1), created_to=base + timedelta(hours=2)
                ),
                PageParams(1, 25),
            )
        assert total == 1 and [r.id for r in rows] == [ids[1]]


class TestMergedCredentials:
    async def _update(
        self,
        app: object,
        factory: Factory,
        config_id: str,
        tenant_id: uuid.UUID,
        credentials: dict[str, str],
        remove: tuple[str, ...] = (),
    ) -> dict[str, str]:
        box = _secretbox(app)
        async with factory.db.sessionmaker() as session:
            await service.update_config(
                session, box, tenant_id, uuid.UUID(config_id),
                DispatchConfigUpdate(credentials=credentials), actor=Actor.system(),
                merge_credentials=True, remove_credentials=remove,
            )  # fmt: skip
        async with factory.db.sessionmaker() as session:
            config = await session.get(DispatchConfig, uuid.UUID(config_id))
            assert config is not None
            return service.open_config_secrets(box, config, utcnow())[0]

    async def test_named_keys_replace_and_removed_keys_go(
        self, app: object, factory: Factory
    ) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "WEBHOOK", credentials={"bearerToken": "first"})
        tid = caller.world.tenant_id
        kept = await self._update(app, factory, config["id"], tid, {})
        replaced = await self._update(app, factory, config["id"], tid, {"bearerToken": "2nd"})
        removed = await self._update(app, factory, config["id"], tid, {}, ("bearerToken",))
        assert kept == {"bearerToken": "first"}
        assert replaced == {"bearerToken": "2nd"}
        assert removed == {}

    async def test_a_required_key_cannot_be_removed(self, app: object, factory: Factory) -> None:
        caller = await admin(factory)
        config = await create_config(caller, "YOM")
        with pytest.raises(ValidationFailed) as refused:
            await self._update(app, factory, config["id"], caller.world.tenant_id, {}, ("apiKey",))
        assert refused.value.details == [{"field": "credentials.apiKey", "message": "is required"}]
