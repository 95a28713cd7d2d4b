"""No secret on the record pages: plant an API key and passwords, then grep every page of
operators, routes, commerces, tenants and the audit log for them and for password hashes."""

from __future__ import annotations

import re

from reten.auth.permissions import Permission, Role
from reten.users.models import User
from tests.admin.support import browser
from tests.factories import PASSWORD, Factory


async def test_no_record_page_shows_a_secret(app: object, factory: Factory) -> None:
    world = await factory.world()
    root_id, root = await factory.user(world, [Role.SUPER_ADMIN.value])
    plaintext = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
    async with factory.db.sessionmaker() as session:
        hashes = [
            user.password_hash
            for user in [await session.get(User, world.admin_id), await session.get(User, root_id)]
            if user is not None
        ]
    assert len(hashes) == 2
    paths = [
        "/operators",
        f"/operators/{world.operator_id}",
        "/routes",
        f"/routes/{world.route_id}",
        "/commerces",
        f"/commerces/{world.commerce_ids[0]}",
        "/settings/tenants",
        "/settings/audit?per_page=100",
    ]
    async with browser(app) as b:
        await b.login(root)
        # A super admin sees every tenant of the database: work in the planted one.
        await b.get("/")
        switched = await b.post("/tenant", {"tenant_id": str(world.tenant_id)})
        assert switched.status_code == 303
        pages = [await b.get(path) for path in paths]
        # A tenant set up with a typed password: the password is in no page either.
        await b.get("/settings/tenants")
        typed = "planted-password-987"
        setup = await b.post(
            "/settings/tenants",
            {
                "name": "Planted",
                "slug": f"planted-{world.slug[2:]}",
                "admin_email": f"planted-{world.slug}@example.com",
                "admin_first_name": "P",
                "admin_last_name": "Q",
                "admin_password": typed,
            },
        )
        pages += [setup, await b.get("/settings/audit?per_page=100")]
    assert setup.status_code == 201
    assert all(p.status_code == 200 for p in pages[:-2])
    # The audit log lists the key's creation, by its prefix only.
    assert "api_key.created" in pages[-1].text
    for page in pages:
        html = page.text
        assert plaintext not in html and plaintext[:20] not in html
        assert typed not in html and PASSWORD not in html
        assert "$argon2" not in html and not any(h in html for h in hashes)
        assert not re.search(r"rtn_sk_[0-9a-f]{20,}", html)
