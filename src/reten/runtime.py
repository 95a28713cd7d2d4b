"""What one server process holds: settings, the database, the rate limiter and caches.

Every router imports `DbSession` from here, so this module imports no domain package: the
dispatch subsystem is wired by the app factory (`app.state.dispatch`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from reten.config import Settings
from reten.kit.cache import TTLCache
from reten.kit.db import Database, database_from_settings
from reten.kit.ratelimit import RateLimiter, build_rate_limiter
from reten.kit.secretbox import SecretBox


@dataclass
class Runtime:
    settings: Settings
    db: Database
    limiter: RateLimiter
    api_key_cache: TTLCache[Any]
    # Seals and opens dispatch credentials and signing secrets (AES-256-GCM).
    secretbox: SecretBox
    # key id -> monotonic time of this process's last `last_used_at` write
    api_key_last_write: dict[Any, float] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        db = database_from_settings(settings)
        return cls(
            settings=settings,
            db=db,
            limiter=build_rate_limiter(settings.redis_url),
            api_key_cache=TTLCache(settings.api_key_cache_seconds),
            secretbox=SecretBox.from_settings(
                settings.secret_key, settings.encryption_key, settings.encryption_previous_keys
            ),
        )

    async def close(self) -> None:
        await self.limiter.close()
        await self.db.dispose()


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).db.sessionmaker() as session:
        yield session


# The request's session, closed as soon as the endpoint returns rather than after the response
# has been sent: a connection goes back to the pool before the bytes go to a slow client.
DbSession: Any = Depends(get_session, scope="function")
