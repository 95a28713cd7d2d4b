"""`tenants.service.list_page`: one page of the tenants a caller may see."""

from __future__ import annotations

from reten.auth.dependencies import user_principal
from reten.auth.permissions import Role
from reten.auth.principal import Principal
from reten.kit.db import Database
from reten.kit.pagination import PageParams
from reten.tenants import service as tenants
from reten.users.models import User
from tests.factories import Factory

PAGE = PageParams(page=1, per_page=100)


async def _principal(db: Database, user_id: object) -> Principal:
    async with db.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user_principal(user, None)


async def test_an_admin_sees_only_its_tenants_a_super_admin_all(
    factory: Factory, db: Database
) -> None:
    mine, theirs = await factory.world(), await factory.world()
    root_id, _ = await factory.user(None, [Role.SUPER_ADMIN.value])
    admin = await _principal(db, mine.admin_id)
    root = await _principal(db, root_id)
    async with db.sessionmaker() as session:
        own, own_total, _ = await tenants.list_page(
            session, admin, search=None, sort=None, page=PAGE
        )
        found, _, _ = await tenants.list_page(
            session, root, search=theirs.slug.upper(), sort=None, page=PAGE
        )
        ordered, _, _ = await tenants.list_page(
            session, root, search=None, sort="-created_at", page=PAGE
        )
    assert [t.slug for t in own] == [mine.slug] and own_total == 1
    assert [t.slug for t in found] == [theirs.slug]
    created = [t.created_at for t in ordered]
    assert created == sorted(created, reverse=True)
    assert {mine.slug, theirs.slug} <= {t.slug for t in ordered}
