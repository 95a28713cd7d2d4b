"""Database machinery: engine, sessions, the base model and the tenant-scoped repository.

Every tenant-scoped read and write goes through `TenantRepository`, which builds its statements
(SELECT, UPDATE, DELETE, and the tenant criterion of a join) from the tenant id it was created
with, so no caller can forget the filter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Delete,
    ForeignKey,
    MetaData,
    Select,
    Table,
    Update,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, Uuid

from reten.kit.time import ensure_utc, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
        uuid.UUID: Uuid,
    }


def table_of(model: type[Base]) -> Table:
    """The mapped class's table, typed as one (for Core statements that skip the ORM)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class TenantScoped:
    """Mixin for every table that belongs to one tenant; deleting the tenant deletes the rows."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=False
        )


ModelT = TypeVar("ModelT", bound=Base)
# Any SELECT, whatever its columns (Select is variadic over them, which a bound cannot express).
SelectT = TypeVar("SelectT")


class TenantScope:
    """The tenant-scoped statements of one tenant, to run on any session or connection."""

    def __init__(self, tenant_id: uuid.UUID) -> None:
        self.tenant_id = tenant_id

    def select(self, model: type[ModelT]) -> Select[ModelT]:
        return select(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def where(self, model: type[Any], stmt: SelectT) -> SelectT:
        """Scope an arbitrary statement (joins, counts) on `model` to the tenant."""
        return stmt.where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined,no-any-return]

    def owns(self, target: type[Any] | Table) -> ColumnElement[bool]:
        """`target.tenant_id = <tenant>`: for the ON clause of an outer join, which a WHERE
        would turn into an inner one."""
        column = target.c.tenant_id if isinstance(target, Table) else target.tenant_id
        return column == self.tenant_id

    def update(self, target: type[Any] | Table) -> Update:
        """`UPDATE target … WHERE tenant_id = <tenant>`: add the row criteria and the values."""
        return update(target).where(self.owns(target))

    def delete(self, target: type[Any] | Table) -> Delete:
        """`DELETE FROM target WHERE tenant_id = <tenant>`: add the row criteria."""
        return delete(target).where(self.owns(target))


class TenantRepository(TenantScope):
    """Reads and writes of tenant-scoped rows, always filtered by the tenant given first."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        super().__init__(tenant_id)
        self.session = session

    async def get(self, model: type[ModelT], id_: uuid.UUID) -> ModelT | None:
        stmt = self.select(model).where(model.id == id_)  # type: ignore[attr-defined]
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def count(self, model: type[Any], *criteria: Any) -> int:
        stmt = self.where(model, select(func.count()).select_from(model)).where(*criteria)
        return int((await self.session.execute(stmt)).scalar_one())

    def add(self, obj: ModelT) -> ModelT:
        obj.tenant_id = self.tenant_id  # type: ignore[attr-defined]
        self.session.add(obj)
        return obj


class Database:
    """Owns the engine and the session factory of one process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        echo: bool = False,
        statement_cache_size: int = 100,
    ):
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            # One writer at a time is SQLite's model; a short busy timeout turns contention into
            # a brief wait instead of "database is locked" errors.
            kwargs["connect_args"] = {"timeout": 30}
            if ":memory:" in url:
                kwargs["poolclass"] = NullPool
        else:
            # Pinged by `_ping_when_idle`, not by pre-ping on every checkout.
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=False)
            if statement_cache_size == 0:
                # Behind PgBouncer in transaction mode consecutive statements may run on
                # different server connections: no statement may outlive its transaction, and
                # names must never collide with another client's on the same server connection.
                kwargs["connect_args"] = {
                    "statement_cache_size": 0,
                    "prepared_statement_cache_size": 0,
                    "prepared_statement_name_func": _unique_statement_name,
                }
            else:
                kwargs["connect_args"] = {"prepared_statement_cache_size": statement_cache_size}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if not url.startswith("sqlite"):
            _ping_when_idle(self.engine)
        if url.startswith("sqlite"):
            _configure_sqlite(self.engine)
            self.read_engine = self.engine
        elif statement_cache_size == 0:
            # Behind PgBouncer in transaction mode a statement outside a transaction may be
            # prepared on one server connection and executed on another: reads, too, run in a
            # transaction on the one pool there.
            self.read_engine = self.engine
        else:
            # The hot single-statement reads (the integration task list) run on a pool of their
            # own: autocommit, so no BEGIN/ROLLBACK round trips around one SELECT (a statement
            # sees everything committed before it started, which is all a list promises), and
            # no pre-ping (three more round trips per checkout). A connection that died with
            # the server fails that one read with 503, and SQLAlchemy's disconnect handling
            # then recycles the whole pool. Sized to hold the load without closing and
            # reopening overflow connections under it.
            self.read_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size + max_overflow,
                max_overflow=0,
                pool_pre_ping=False,
                isolation_level="AUTOCOMMIT",
                connect_args=kwargs["connect_args"],
            )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Sessions on the write pool whose statements each commit on their own, for work whose
        # only write is one statement (a result submission): there BEGIN and COMMIT are two round
        # trips that protect nothing. None where a statement outside a transaction is unsafe
        # (PgBouncer, see `read_engine`) or saves nothing (SQLite, in process).
        self.autocommit_sessionmaker: async_sessionmaker[AsyncSession] | None = (
            None
            if self.read_engine is self.engine
            else async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine of the process, each once (on SQLite the reads share the one engine)."""
        if self.read_engine is self.engine:
            return (self.engine,)
        return (self.engine, self.read_engine)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside any transaction (see `read_engine`); never write
        through it."""
        async with self.read_engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()


def _unique_statement_name() -> str:
    return f"__reten_{uuid.uuid4().hex}__"


class DatabaseSettings(Protocol):
    database_url: str
    db_pool_size: int
    db_max_overflow: int
    db_echo: bool
    db_statement_cache_size: int


def database_from_settings(settings: DatabaseSettings) -> Database:
    """The process's database as the settings describe it (one place, for server, worker, CLI)."""
    return Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        echo=settings.db_echo,
        statement_cache_size=settings.db_statement_cache_size,
    )


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 2.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a write connection at checkout only if it sat idle in the pool for a while.

    SQLAlchemy's pre-ping costs three round trips (BEGIN, an empty statement, ROLLBACK) on
    every checkout, about a third of a result submission's. A connection that was in use a
    moment ago is not worth checking: what kills connections (a server restart, an idle
    timeout, a failover) happens while they sit idle, or to all of them at once, and then
    SQLAlchemy's disconnect handling recycles the pool after the one statement that fails.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # aiosqlite opens transactions itself; let SQLAlchemy emit BEGIN so that
        # BEGIN IMMEDIATE below is the only way a write transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer (R1: durable)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads then writes can fail with SQLITE_BUSY without
        # waiting; IMMEDIATE takes the write lock up front and honours busy_timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
