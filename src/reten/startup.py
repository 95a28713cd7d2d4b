"""What every process does to a database before using it: migrate it (when asked) and seed the
global catalogs, under the schema lock so that processes starting together take turns."""

from __future__ import annotations

from reten.activity_config.service import seed_attribute_keys
from reten.dispatch.seed import seed_providers
from reten.kit.db import Database
from reten.migrations import schema_lock, upgrade


async def prepare_database(db: Database, *, migrate: bool) -> None:
    async with schema_lock(db.engine):
        if migrate:
            await upgrade(db.engine)
        async with db.sessionmaker() as session:
            await seed_attribute_keys(session)
            await seed_providers(session)
