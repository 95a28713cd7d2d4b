"""TenantRepository scopes writes as it scopes reads: an UPDATE or DELETE built by one tenant's
repository never reaches another tenant's rows, even with criteria that match them."""

from __future__ import annotations

from sqlalchemy import select

from reten.commerces.models import Commerce
from reten.kit.db import Database, TenantRepository
from tests.factories import Factory


async def _names(db: Database) -> dict[str, str]:
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Commerce.id, Commerce.name))).all()
    return {str(id_): name for id_, name in rows}


class TestScopedWrites:
    async def test_an_update_reaches_only_the_tenants_rows(
        self, db: Database, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        before = await _names(db)
        async with db.sessionmaker() as session:
            repo = TenantRepository(session, mine.tenant_id)
            # Criteria matching both tenants' commerces: the repository must still keep to its own.
            everyone = mine.commerce_ids + theirs.commerce_ids
            result = await session.execute(
                repo.update(Commerce).where(Commerce.id.in_(everyone)).values(name="Renamed")
            )
            await session.commit()
        assert result.rowcount == len(mine.commerce_ids)  # type: ignore[attr-defined]
        after = await _names(db)
        assert {after[str(c)] for c in mine.commerce_ids} == {"Renamed"}
        assert [after[str(c)] for c in theirs.commerce_ids] == [
            before[str(c)] for c in theirs.commerce_ids
        ]

    async def test_a_delete_reaches_only_the_tenants_rows(
        self, db: Database, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with db.sessionmaker() as session:
            repo = TenantRepository(session, mine.tenant_id)
            result = await session.execute(
                repo.delete(Commerce).where(Commerce.id.in_(theirs.commerce_ids))
            )
            await session.commit()
        assert result.rowcount == 0  # type: ignore[attr-defined]
        left = await _names(db)
        assert all(str(c) in left for c in theirs.commerce_ids + mine.commerce_ids)

        async with db.sessionmaker() as session:
            table = Commerce.__table__
            repo = TenantRepository(session, mine.tenant_id)
            await session.execute(repo.delete(table))  # a Core table works the same
            await session.commit()
        left = await _names(db)
        assert not any(str(c) in left for c in mine.commerce_ids)
        assert all(str(c) in left for c in theirs.commerce_ids)

    async def test_owns_keeps_an_outer_join_to_the_tenant(
        self, db: Database, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with db.sessionmaker() as session:
            repo = TenantRepository(session, mine.tenant_id)
            # Join every commerce of the database to the commerces of `mine` only.
            other = Commerce.__table__.alias("other")
            stmt = (
                select(other.c.id, Commerce.id)
                .select_from(other)
                .outerjoin(Commerce, (Commerce.id == other.c.id) & repo.owns(Commerce))
                .where(other.c.id.in_(mine.commerce_ids + theirs.commerce_ids))
            )
            joined = {str(a): b for a, b in (await session.execute(stmt)).all()}
        assert all(joined[str(c)] == c for c in mine.commerce_ids)
        assert all(joined[str(c)] is None for c in theirs.commerce_ids)
