"""Settings → Audit log: the trail with its filters; permission and tenant isolation."""

from __future__ import annotations

import re
import uuid

from reten.auth.permissions import Role
from tests.admin.support import PanelClient, browser
from tests.factories import Factory, World

ROW = re.compile(r'<tr id="event-([0-9a-f-]{36})">(.*?)</tr>', re.S)


def _actions(html: str) -> list[str]:
    return [re.findall(r"<code>([a-z_.]+)</code>", row)[0] for _, row in ROW.findall(html)]


async def _make_changes(b: PanelClient, world: World) -> None:
    """Two recorded changes by the admin: a result type created, then deactivated."""
    await b.get("/result-types")
    await b.post(
        "/result-types", {"code": "AUDITED", "label": "Audited", "outcome": "NOT_EFFECTIVE"}
    )
    listed = (await b.get("/result-types")).text
    type_id = re.search(r'href="/result-types/([0-9a-f-]{36})"><code>AUDITED<', listed)
    assert type_id
    await b.post(f"/result-types/{type_id.group(1)}/deactivate", {"confirm": "yes"})


class TestAuditLog:
    async def test_lists_events_newest_first_with_filters_in_the_url(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            home = await b.get("/")
            await _make_changes(b, world)
            listed = await b.get("/settings/audit")
            oldest = await b.get("/settings/audit?sort=occurred_at")
            created = await b.get("/settings/audit?action=task_result_type.created")
            by_admin = await b.get(f"/settings/audit?actor_id={world.admin_id}")
            by_system = await b.get("/settings/audit?actor_type=SYSTEM&target_type=tenant")
            later = await b.get("/settings/audit?occurred_from=2999-01-01T00:00")
            fragment = await b.get("/settings/audit", headers={"hx-request": "true"})
            bad = await b.get("/settings/audit?action=nothing.happened")
        assert 'href="/settings/audit"' in home.text
        actions = _actions(listed.text)
        # The admin's two changes come first; the world's setup (by the system) before them.
        assert actions[:2] == ["task_result_type.updated", "task_result_type.created"]
        assert "tenant.created" in actions
        assert _actions(oldest.text)[0] == "tenant.created"
        first_row = ROW.findall(listed.text)[0][1]
        assert world.admin_email in first_row and "USER" in first_row
        assert "<time datetime=" in first_row  # the tenant's local time, UTC on hover
        assert '"isActive"' in first_row  # the details: what changed
        assert re.search(r'href="/result-types/[0-9a-f-]{36}">AUDITED</a>', first_row)
        assert set(_actions(created.text)) == {"task_result_type.created"}
        assert len(_actions(created.text)) == 5  # four from the world's setup, one by the admin
        assert _actions(by_admin.text) == ["task_result_type.updated", "task_result_type.created"]
        assert _actions(by_system.text) == ["tenant.created"]
        assert "Nothing matches these filters." in later.text
        assert "<html" not in fragment.text and "task_result_type.updated" in fragment.text
        assert bad.status_code == 400 and "action must be one of" in bad.text


class TestAuditLogAccess:
    async def test_an_fde_sees_no_link_and_gets_403(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        _, fde = await factory.user(world, [Role.FDE.value])
        async with browser(app) as b:
            await b.login(fde)
            home = await b.get("/")
            refused = await b.get("/settings/audit")
        assert 'href="/settings/audit"' not in home.text
        assert refused.status_code == 403 and "<h1>Not allowed</h1>" in refused.text

    async def test_shows_only_the_tenants_own_events(self, app: object, factory: Factory) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with browser(app) as other:
            await other.login(theirs.admin_email)
            await _make_changes(other, theirs)
            their_events = [
                eid for eid, _ in ROW.findall((await other.get("/settings/audit")).text)
            ]
        async with browser(app) as b:
            await b.login(mine.admin_email)
            listed = await b.get("/settings/audit?per_page=100")
            by_their_admin = await b.get(f"/settings/audit?actor_id={theirs.admin_id}")
            their_tenant = await b.get(f"/settings/audit?target_id={theirs.tenant_id}")
            random_target = await b.get(f"/settings/audit?target_id={uuid.uuid4()}")
        assert their_events
        for event_id in their_events:
            assert event_id not in listed.text
        assert theirs.admin_email not in listed.text and theirs.slug not in listed.text
        for response in (by_their_admin, their_tenant, random_target):
            assert response.status_code == 200 and "Nothing matches these filters." in response.text
