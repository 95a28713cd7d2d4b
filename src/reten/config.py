"""Settings: the only place the environment is read. Every knob is a RETEN_* variable."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETEN_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./reten.db"
    # Production refuses SQLite unless this is set explicitly (overview.md).
    allow_sqlite_in_production: bool = False
    secret_key: str = DEFAULT_SECRET_KEY
    public_url: str = "http://localhost:8000"
    admin_url: str | None = None
    migrate_on_start: bool = True
    access_token_ttl_seconds: int = Field(default=900, ge=60)
    refresh_token_ttl_seconds: int = Field(default=604800, ge=300)
    # An admin panel session ends this long after login (or at logout, whichever comes first).
    admin_session_ttl_seconds: int = Field(default=28800, ge=300)
    # How long a verified API key is trusted without looking at the database again. A revocation
    # takes effect within this delay on every process, so it must stay at or below 5 s.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=5)
    api_key_last_used_interval_seconds: int = Field(default=60, ge=1)
    # How long a list total (meta.total) may be reused by a process; its own writes always
    # refresh it at once. 0 counts on every request.
    count_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    login_rate_limit: int = Field(default=10, ge=1)
    redis_url: str | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_sync_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool | None = None
    access_log: bool = True
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_echo: bool = False
    # Encryption at rest (kit.secretbox): base64 of 32 bytes; derived from secret_key when unset.
    encryption_key: str | None = None
    # Comma-separated older keys, still accepted for opening values sealed before a key change.
    encryption_previous_keys: str | None = None
    # Push dispatch (dispatch.md).
    run_dispatcher: bool = True  # `reten serve` runs the dispatcher in-process unless false
    dispatch_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    dispatch_batch_per_tenant: int = Field(default=100, ge=1, le=10_000)
    dispatch_concurrency: int = Field(default=32, ge=1, le=1024)
    # How long a claim holds an activity. The dispatcher never leases for less than a config's
    # timeout plus 5 s, so a live delivery cannot lose its lease.
    dispatch_lease_seconds: float = Field(default=60, gt=0, le=3600)
    dispatch_attempt_retention_days: int = Field(default=30, ge=1)
    # None: allowed only in development (loopback receivers while building an integration).
    dispatch_allow_private_networks: bool | None = None

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        # Accept the plain driver-less spellings people paste from other tools.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://") :]
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allow_private_networks(self) -> bool:
        if self.dispatch_allow_private_networks is not None:
            return self.dispatch_allow_private_networks
        return self.env == Environment.DEVELOPMENT

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return self.env != Environment.DEVELOPMENT

    def check_production_safety(self) -> None:
        """Refuse to run a production server with settings that are only fit for a laptop."""
        if self.env != Environment.PRODUCTION:
            return
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            raise RuntimeError(
                "RETEN_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production"
            )
        if self.is_sqlite and not self.allow_sqlite_in_production:
            raise RuntimeError("SQLite in production needs RETEN_ALLOW_SQLITE_IN_PRODUCTION=true")


@lru_cache
def get_settings() -> Settings:
    return Settings()
