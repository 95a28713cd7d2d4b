"""Safety: the SSRF guard (S7), secrets never leaving (S5), encryption at rest, retention."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from reten.dispatch.delivery import Sender
from reten.dispatch.models import DispatchAttempt, DispatchConfig
from reten.dispatch.providers import REGISTRY
from reten.dispatch.providers.base import DeliveryConfig
from reten.kit.netguard import RefusedAddress, address_class, check_url
from reten.kit.secretbox import SecretBox, SecretBoxError, derive_key
from reten.kit.time import utcnow
from tests.dispatch import support
from tests.dispatch.receiver import Receiver
from tests.factories import Factory

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata endpoints live here
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is judged as the IPv4 it maps
    ("100.64.0.1", "reserved"),  # carrier-grade NAT: not public
]


class TestNetworkGuard:
    @pytest.mark.parametrize(("address", "kind"), REFUSED)
    def test_each_refused_class(self, address: str, kind: str) -> None:
        assert address_class(ipaddress.ip_address(address)) == kind

    @pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
    def test_public_addresses_pass(self, address: str) -> None:
        assert address_class(ipaddress.ip_address(address)) is None

    @pytest.mark.parametrize(("address", "kind"), REFUSED)
    async def test_urls_to_refused_addresses_are_refused(self, address: str, kind: str) -> None:
        host = f"[{address}]" if ":" in address else address
        with pytest.raises(RefusedAddress, match=kind):
            await check_url(f"https://{host}:8443/hook", allow_private=False)

    async def test_a_name_resolving_to_loopback_is_refused(self) -> None:
        with pytest.raises(RefusedAddress, match="loopback"):
            await check_url("http://localhost/hook", allow_private=False)

    async def test_a_public_literal_is_pinned_with_its_host_header(self) -> None:
        target = await check_url("https://93.184.215.14:8443/a?b=1", allow_private=False)
        assert target.url == "https://93.184.215.14:8443/a?b=1"
        assert target.host_header == "93.184.215.14:8443"

    @pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "/relative"])
    async def test_only_http_and_https(self, url: str) -> None:
        with pytest.raises(RefusedAddress):
            await check_url(url, allow_private=True)

    async def test_a_refused_delivery_fails_without_a_request(self, receiver: Receiver) -> None:
        sender = Sender(allow_private_networks=False)
        try:
            result = await sender.deliver(
                REGISTRY["WEBHOOK"],
                {"id": "x"},
                DeliveryConfig(receiver.url(), {}, ("whsec_" + "A" * 44,)),
                message_id="msg_x",
                timeout_seconds=2,
            )
        finally:
            await sender.close()
        assert result.outcome.value == "FAILURE" and not result.retryable
        assert result.error is not None and "loopback" in result.error
        assert receiver.received == []

    async def test_the_dispatcher_fails_the_activity_with_the_reason(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        from reten.dispatch.dispatcher import Dispatcher

        t = await support.tenant(factory)
        await support.make_config(client, t, base_url=receiver.url())
        activity_id = await factory.task(t.world)
        runtime = app.state.runtime
        guarded = Sender(allow_private_networks=False)
        try:
            await Dispatcher(
                runtime.db,
                runtime.settings,
                runtime.secretbox,
                guarded,
                tenant_ids=frozenset({t.world.tenant_id}),
            ).drain()
        finally:
            await guarded.close()
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "FAILED"
        assert "loopback address (127.0.0.1); refused" in detail["dispatch"]["lastError"]
        assert receiver.received == []

    def test_production_refuses_private_networks_by_default(self) -> None:
        from reten.config import Environment, Settings

        assert Settings(env=Environment.DEVELOPMENT).allow_private_networks is True
        assert Settings(env=Environment.PRODUCTION).allow_private_networks is False
        assert Settings(env=Environment.STAGING).allow_private_networks is False
        explicit = Settings(env=Environment.PRODUCTION, dispatch_allow_private_networks=True)
        assert explicit.allow_private_networks is True


class TestSecretBox:
    def test_round_trip_with_a_fresh_nonce_each_time(self) -> None:
        box = SecretBox(derive_key("k" * 40))
        a, b = box.seal("s3cret"), box.seal("s3cret")
        assert a != b and "s3cret" not in a
        assert box.open(a) == box.open(b) == "s3cret"

    def test_tampering_and_unknown_keys_are_refused(self) -> None:
        box = SecretBox(derive_key("k" * 40))
        sealed = box.seal("s3cret")
        flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
        with pytest.raises(SecretBoxError):
            box.open(flipped)
        with pytest.raises(SecretBoxError):
            SecretBox(derive_key("other" * 10)).open(sealed)

    def test_values_sealed_with_a_previous_key_still_open(self) -> None:
        old, new = derive_key("old" * 20), derive_key("new" * 20)
        sealed = SecretBox(old).seal("s3cret")
        rotated = SecretBox(new, [old])
        assert rotated.open(sealed) == "s3cret"
        assert SecretBox(new).open(rotated.seal("x")) == "x"  # new values use the new key


class TestSecretsNeverLeave:
    async def test_credentials_and_signing_secrets_absent_from_responses_and_logs(
        self,
        app: Any,
        db: Any,
        factory: Factory,
        client: httpx.AsyncClient,
        receiver: Receiver,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        planted = f"planted-{uuid.uuid4().hex}"
        t = await support.tenant(factory)
        cfg = await support.make_config(
            client, t, base_url=receiver.url(), credentials={"bearerToken": planted}
        )
        secret = cfg.pop("signingSecret")
        assert planted not in str(cfg)
        from tests.dispatch.receiver import Reply

        receiver.answer(Reply(500, b"nope"))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        rotated = (
            await client.post(f"/api/dispatch-configs/{cfg['id']}/rotate-secret", headers=t.headers)
        ).json()
        new_secret = rotated.pop("signingSecret")
        bodies = [
            str(rotated),
            (await client.get("/api/dispatch-configs", headers=t.headers)).text,
            (await client.get(f"/api/dispatch-configs/{cfg['id']}", headers=t.headers)).text,
            (
                await client.get(f"/api/dispatch-configs/{cfg['id']}/attempts", headers=t.headers)
            ).text,
            (await client.get(f"/api/activities/{activity_id}", headers=t.headers)).text,
            (await client.get(f"/api/activities/{activity_id}/attempts", headers=t.headers)).text,
            (await client.post(f"/api/dispatch-configs/{cfg['id']}/test", headers=t.headers)).text,
            (
                await client.patch(
                    f"/api/dispatch-configs/{cfg['id']}",
                    json={"credentials": {"bearerToken": planted + "-2"}},
                    headers=t.headers,
                )
            ).text,
        ]
        # The receiver got the token, as it should; nothing else did.
        assert receiver.received[0].headers["authorization"] == f"Bearer {planted}"
        async with db.sessionmaker() as session:
            row = (
                await session.execute(
                    select(DispatchConfig).where(DispatchConfig.id == uuid.UUID(cfg["id"]))
                )
            ).scalar_one()
        stored = " ".join(
            str(v)
            for v in (
                row.credentials_encrypted,
                row.signing_secret_encrypted,
                row.previous_secret_encrypted,
            )
        )
        logs = capfd.readouterr()
        everything = "\n".join([*bodies, logs.out, logs.err, stored])
        for value in (planted, secret, new_secret, secret.removeprefix("whsec_")):
            assert value not in everything


class TestRetention:
    async def test_old_attempts_are_pruned(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t = await support.tenant(factory)
        cfg = await support.make_config(client, t, base_url=receiver.url())
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        async with db.sessionmaker() as session:
            old = DispatchAttempt(
                id=uuid.uuid4(),
                tenant_id=t.world.tenant_id,
                activity_id=activity_id,
                dispatch_config_id=uuid.UUID(cfg["id"]),
                attempt_number=99,
                trigger="SCHEDULED",
                outcome="FAILURE",
                duration_ms=1,
                created_at=utcnow() - timedelta(days=31),
            )
            session.add(old)
            await session.commit()
        await support.dispatcher(app, t)._maybe_prune()
        numbers = [a.attempt_number for a in await support.attempts(db, activity_id)]
        assert numbers == [1]


class TestUnreadableConfig:
    async def test_a_config_sealed_with_an_unknown_key_does_not_stop_the_others(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        from sqlalchemy import update

        broken, broken_cfg = await support.setup(factory, client, receiver)
        healthy, _ = await support.setup(factory, client, receiver)
        foreign = SecretBox(derive_key("another-deployment-key" * 2))
        async with db.sessionmaker() as session:  # as if RETEN_ENCRYPTION_KEY had changed
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(broken_cfg["id"]))
                .values(signing_secret_encrypted=foreign.seal("whsec_" + "A" * 44))
            )
            await session.commit()
        stuck = await factory.task(broken.world)
        delivered = await factory.task(healthy.world)
        await support.dispatcher(app, broken, healthy).drain()
        assert receiver.ids() == [f"msg_{delivered.hex}"]
        assert (await support.activity(db, stuck)).status == "READY"
        manual = await client.post(
            f"/api/activities/tasks/{stuck}/dispatch", headers=broken.headers
        )
        assert manual.status_code == 503
        assert "cannot be opened" in manual.json()["message"]
