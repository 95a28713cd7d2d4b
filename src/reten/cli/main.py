"""The `reten` command line (Typer). Scripts depend on these contracts: keep them stable."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from reten.cli.client_commands import register as register_client_commands
from reten.config import Environment, Settings
from reten.kit.actor import Actor
from reten.kit.db import Database, database_from_settings
from reten.kit.time import parse_iso

app = typer.Typer(
    help="Reten: field activities platform.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with locals could print secrets (passwords, keys): keep plain tracebacks.
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
commerces_app = typer.Typer(help="Commerces.", no_args_is_help=True)
dispatch_app = typer.Typer(help="Push dispatch.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="api-keys")
app.add_typer(commerces_app, name="commerces")
app.add_typer(dispatch_app, name="dispatch")
register_client_commands(app)
app.add_typer(audit_app, name="audit")

err = Console(stderr=True)
out = Console()
T = TypeVar("T")

DatabaseUrl = typer.Option(None, "--database-url", help="Overrides RETEN_DATABASE_URL.")


def _settings(database_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(overrides)
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


def _run(
    settings: Settings, work: Callable[[Database], Awaitable[T]], *, migrate: bool = True
) -> T:
    """Run `work` against a migrated database and dispose of the engine afterwards."""
    from reten.startup import prepare_database

    async def main() -> T:
        db = database_from_settings(settings)
        try:
            if migrate:
                await prepare_database(db, migrate=True)
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _quiet_logs() -> None:
    import logging

    from reten.kit.logging import configure_logging

    # Logs go to stderr and only from WARNING up: stdout is the command's answer
    # (`demo --json` and `api-keys create` print exactly one thing there).
    configure_logging("WARNING", json_logs=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@db_app.command("upgrade")
def db_upgrade(
    check: bool = typer.Option(
        False,
        "--check",
        help="Change nothing; exit 1 when migrations are pending, 0 when the schema is current.",
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Apply every pending migration (under the schema lock: safe while other processes start)."""
    _quiet_logs()
    settings = _settings(database_url)
    if check:
        from reten.migrations import pending

        async def inspect(db: Database) -> list[str]:
            return await pending(db.engine)

        missing = _run(settings, inspect, migrate=False)
        if missing:
            err.print(f"{len(missing)} migration(s) pending: {', '.join(missing)}")
            raise typer.Exit(1)
        err.print("database is up to date")
        return

    async def nothing(db: Database) -> None:
        return None

    _run(settings, nothing)
    err.print("database is up to date")


def _print_summary(summary: Any) -> None:
    # Plain print, not Rich: a key wrapped over two lines cannot be copied.
    curl = (
        f'curl -s -H "x-api-key: {summary.api_key}" '
        f'"{summary.base_url}/api/integration/activities/tasks?status=PENDING&per_page=5"'
    )
    lines = [
        "Reten demo"
        + (" (seeded now)" if summary.created else " (existing data, fresh credentials)"),
        f"  tenant          {summary.tenant_slug} ({summary.tenant_id})",
        f"  admin email     {summary.admin_email}",
        f"  admin password  {summary.admin_password}",
        f"  API key         {summary.api_key}",
        f"  base URL        {summary.base_url}",
        f"  API reference   {summary.base_url}/docs",
        "  try it:",
        f"    {curl}",
    ]
    print("\n".join(lines), flush=True)


def _seed(settings: Settings, base_url: str) -> Any:
    from reten.demo import seed_demo

    if settings.env == Environment.PRODUCTION:
        _fail("refusing to seed demo data with RETEN_ENV=production")
    return _run(settings, lambda db: seed_demo(db, base_url))


@app.command()
def demo(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Seed the demo tenant (idempotent) and print credentials that work."""
    _quiet_logs()
    settings = _settings(database_url)
    summary = _seed(settings, settings.public_url.rstrip("/"))
    if as_json:
        sys.stdout.write(json.dumps(summary.as_json()) + "\n")
    else:
        _print_summary(summary)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    demo: bool = typer.Option(False, "--demo", help="Seed demo data first and print credentials."),
    no_dispatcher: bool = typer.Option(
        False, "--no-dispatcher", help="Do not run the push dispatcher in this process."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="API processes sharing the port (PostgreSQL only above 1). Default RETEN_WORKERS.",
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Run the API server (applies pending migrations first unless RETEN_MIGRATE_ON_START=false).

    SIGTERM stops it gracefully: no new connections, in-flight requests and deliveries finish
    (each phase bounded by RETEN_SHUTDOWN_GRACE_SECONDS), exit status 0."""
    import os
    import signal as os_signal

    import uvicorn

    overrides: dict[str, Any] = {}
    if demo:
        _quiet_logs()
        shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
        base_url = f"http://{shown_host}:{port}"
        overrides["public_url"] = base_url
        settings = _settings(database_url, **overrides)
        _print_summary(_seed(settings, base_url))
    if no_dispatcher:
        overrides["run_dispatcher"] = False
    if workers is not None:
        overrides["workers"] = workers
    settings = _settings(database_url, **overrides)
    try:
        settings.check_production_safety()
    except RuntimeError as exc:
        _fail(str(exc))
    if settings.workers > 1 and settings.is_sqlite:
        _fail("--workers above 1 needs PostgreSQL: SQLite has one writer, run one process")

    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully, which would end
    # the process "killed by SIGTERM". A graceful stop is a success: exit 0.
    def _stopped(signum: int, frame: object) -> None:
        raise SystemExit(0)

    os_signal.signal(os_signal.SIGTERM, _stopped)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": settings.access_log,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }
    if settings.workers > 1:
        # Worker processes build the app from the environment: hand them what the command line
        # changed, and the directory where their metrics are aggregated (kit.metrics).
        from reten.kit.metrics import prepare_multiprocess_dir

        if database_url:
            os.environ["RETEN_DATABASE_URL"] = settings.database_url
        for name in ("public_url", "run_dispatcher"):
            if name in overrides:
                os.environ[f"RETEN_{name.upper()}"] = str(overrides[name])
        prepare_multiprocess_dir()
        uvicorn.run(
            "reten.app:create_app",
            factory=True,
            workers=settings.workers,
            # The supervisor kills a worker that does not answer its ping within this; uvicorn's
            # 5 s is shorter than a fresh process takes to start on a busy host, which then
            # restarts its workers forever.
            timeout_worker_healthcheck=30,
            **options,
        )
        return

    from reten.app import create_app

    try:
        application = create_app(settings)
    except RuntimeError as exc:
        _fail(str(exc))
        return
    uvicorn.run(application, **options)


@app.command()
def worker(database_url: str | None = DatabaseUrl) -> None:
    """Run the push dispatcher alone (PostgreSQL). Start as many as needed, on any machines,
    next to `reten serve --no-dispatcher` API processes."""
    import signal as os_signal

    from reten.dispatch.actions import DispatchService
    from reten.kit.logging import configure_logging

    settings = _settings(database_url)
    if settings.is_sqlite:
        _fail("reten worker needs PostgreSQL; on SQLite the dispatcher runs inside `reten serve`")
    configure_logging(settings.log_level, settings.json_logs)

    if settings.worker_metrics_port is not None:
        from prometheus_client import start_http_server

        import reten.metrics  # noqa: F401  (registers the dispatch series before the first scrape)

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)

    async def main(db: Database) -> None:
        service = DispatchService.from_settings(db, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (os_signal.SIGINT, os_signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await service.dispatcher().run(stop)
        finally:
            await service.close()

    _run(settings, main, migrate=settings.migrate_on_start)


@dispatch_app.command("test")
def dispatch_test(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    channel: str = typer.Option(..., "--channel", help="SALESMAN, CALLCENTER, WHATSAPP, ..."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Send a synthetic activity through the tenant's active config for CHANNEL and print the
    provider's answer as JSON. Exit status 0 when the provider accepted it, 1 otherwise."""
    from reten.activities.models import Channel
    from reten.dispatch.actions import DispatchService
    from reten.kit.errors import AppError

    _quiet_logs()
    channel = channel.upper()
    if channel not in {c.value for c in Channel}:
        _fail(f"unknown channel {channel}; one of {', '.join(c.value for c in Channel)}", 2)
    settings = _settings(database_url)

    async def main(db: Database) -> dict[str, Any]:
        service = DispatchService.from_settings(db, settings)
        try:
            return await service.test_channel(tenant, channel)
        finally:
            await service.close()

    try:
        answer = _run(settings, main)
    except AppError as exc:
        _fail(exc.message)
        return
    print(json.dumps(answer, indent=2))
    if answer["outcome"] != "SUCCESS":
        raise typer.Exit(1)


@tenants_app.command("create")
def tenants_create(
    slug: str = typer.Argument(..., help="URL-safe identifier, e.g. acme-corp"),
    name: str = typer.Option(..., "--name"),
    admin_email: str = typer.Option(..., "--admin-email"),
    admin_password: str | None = typer.Option(
        None, "--admin-password", help="Generated when absent."
    ),
    locale: str = typer.Option("es", "--locale"),
    time_zone: str = typer.Option("America/Santiago", "--time-zone"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Create a tenant and its first administrator."""
    from pydantic import ValidationError

    from reten.kit.errors import AppError
    from reten.tenants import service
    from reten.tenants.schemas import TenantSetup

    _quiet_logs()
    password = admin_password or secrets.token_urlsafe(12)
    try:
        data = TenantSetup(
            name=name, slug=slug, locale=locale, time_zone=time_zone, admin_email=admin_email,
            admin_password=password, admin_first_name="Admin", admin_last_name=name[:100],
        )  # fmt: skip
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return

    async def work(db: Database) -> Any:
        async with db.sessionmaker() as session:
            return await service.setup_tenant(session, data, actor=Actor.system())

    try:
        tenant = _run(_settings(database_url), work)
    except AppError as exc:
        _fail(exc.message)
        return
    out.print(f"tenant {tenant.slug} created ({tenant.id})", highlight=False)
    out.print(f"admin  {data.admin_email}", highlight=False)
    if admin_password is None:
        out.print(f"password {password}", highlight=False)


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., "--email"),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Tenant slug to make the user a member of."
    ),
    role: list[str] = typer.Option(
        ["VIEWER"], "--role", help="SUPER_ADMIN, ADMIN, FDE or VIEWER (repeatable)."
    ),
    password: str | None = typer.Option(None, "--password", help="Generated when absent."),
    first_name: str = typer.Option("", "--first-name"),
    last_name: str = typer.Option("", "--last-name"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Create a user (SUPER_ADMIN needs no tenant; others usually get --tenant)."""
    from reten.audit import service as audit
    from reten.audit.models import AuditAction
    from reten.auth.permissions import Role
    from reten.kit.errors import AppError
    from reten.tenants import service as tenants
    from reten.users import service as users

    _quiet_logs()
    bad = [r for r in role if r not in Role.__members__]
    if bad:
        _fail(f"unknown role(s) {', '.join(bad)}; use {', '.join(Role)}")
    if not users.valid_email(email):
        _fail("--email must be an email address")
    secret = password or secrets.token_urlsafe(12)
    if not 8 <= len(secret) <= 128:
        _fail("--password must be 8-128 characters")

    async def work(db: Database) -> Any:
        async with db.sessionmaker() as session:
            target = None
            if tenant:
                target = await tenants.get_by_slug(session, tenant)
                if target is None:
                    _fail(f"no tenant with slug {tenant!r}")
            user = await users.create_user(
                session,
                email=email,
                password=secret,
                first_name=first_name,
                last_name=last_name,
                roles=role,
            )
            if target is not None:
                await users.add_membership(session, user.id, target.id)
                audit.record_object(
                    session, target.id, Actor.system(), AuditAction.USER_CREATED, user
                )
            await session.commit()
            return user

    try:
        user = _run(_settings(database_url), work)
    except AppError as exc:
        _fail(exc.message)
        return
    out.print(f"user {user.email} created ({user.id})", highlight=False)
    if password is None:
        out.print(f"password {secret}", highlight=False)


@keys_app.command("create")
def api_keys_create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    name: str = typer.Option(..., "--name"),
    permission: list[str] = typer.Option(..., "--permission", help="Permission name (repeatable)."),
    expires_at: str | None = typer.Option(None, "--expires-at", help="ISO 8601 with offset."),
    user: str | None = typer.Option(
        None, "--user", help="Owner's email; default: the tenant's first ADMIN."
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Create an API key and print only its plaintext (shown once)."""
    from reten.api_keys import service as api_keys
    from reten.auth.permissions import permissions_for_roles
    from reten.kit.errors import AppError
    from reten.tenants import service as tenants
    from reten.users import service as users

    _quiet_logs()
    expiry: datetime | None = None
    if expires_at:
        try:
            expiry = parse_iso(expires_at)
        except ValueError:
            _fail("--expires-at must be an ISO 8601 timestamp with a time zone")

    async def work(db: Database) -> str:
        async with db.sessionmaker() as session:
            target = await tenants.get_by_slug(session, tenant)
            if target is None:
                _fail(f"no tenant with slug {tenant!r}")
                raise AssertionError
            if user:
                owner = await users.get_by_email(session, user)
                if owner is None:
                    _fail(f"no user {user!r}")
                    raise AssertionError
            else:
                owner = await users.first_admin(session, target.id)
                if owner is None:
                    _fail(f"tenant {tenant!r} has no active ADMIN; pass --user")
                    raise AssertionError
            _, plaintext = await api_keys.create_key(
                session,
                tenant_id=target.id,
                owner_id=owner.id,
                owner_permissions=permissions_for_roles(owner.roles),
                name=name,
                permissions=permission,
                expires_at=expiry,
                actor=Actor.system(),
            )
            return plaintext

    try:
        plaintext = _run(_settings(database_url), work)
    except AppError as exc:
        detail = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details or [])
        _fail(f"{exc.message}{' (' + detail + ')' if detail else ''}")
        return
    sys.stdout.write(plaintext + "\n")


@commerces_app.command("import")
def commerces_import(
    file: Path = typer.Argument(..., help="A .csv or .json file of commerces (docs/commerces.md)."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Create or update commerces from a file, with the semantics of POST /api/commerces/sync."""
    from rich.progress import Progress

    from reten.commerces import importer
    from reten.tenants import service as tenants

    _quiet_logs()
    try:
        items = importer.read_file(file)
    except importer.ImportFileError as exc:
        _fail(str(exc))
        return

    async def work(db: Database) -> importer.ImportReport:
        async with db.sessionmaker() as session:
            target = await tenants.get_by_slug(session, tenant)
        if target is None:
            _fail(f"no tenant with slug {tenant!r}")
            raise AssertionError
        with Progress(console=err) as progress:
            task = progress.add_task("importing", total=len(items))
            return await importer.import_items(
                db, target.id, items, on_progress=lambda n: progress.advance(task, n)
            )

    report = _run(_settings(database_url), work)
    for line, message in report.errors:
        err.print(f"line {line}: {message}", highlight=False, markup=False, soft_wrap=True)
    out.print(
        f"created {report.created}, updated {report.updated}, errors {len(report.errors)}",
        highlight=False,
    )
    if report.errors:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    action: str | None = typer.Option(None, "--action", help="One action, e.g. api_key.created."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 with offset (inclusive)."),
    limit: int = typer.Option(25, "--limit", min=1, max=100, help="Newest events, 1-100."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Print a tenant's newest audit events, one JSON object per line (newest first)."""
    from reten.audit import service as audit
    from reten.audit.models import AuditAction
    from reten.audit.schemas import AuditEventRead
    from reten.kit.pagination import PageParams
    from reten.tenants import service as tenants

    _quiet_logs()
    if action is not None and action not in AuditAction._value2member_map_:
        _fail(f"unknown action {action!r}; use one of {', '.join(AuditAction)}")
    try:
        occurred_from = parse_iso(since) if since else None
    except ValueError:
        _fail("--since must be an ISO 8601 timestamp with a time zone")
        return
    filters = audit.AuditFilters(
        action=AuditAction(action) if action else None, occurred_from=occurred_from
    )

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.sessionmaker() as session:
            target = await tenants.get_by_slug(session, tenant)
            if target is None:
                _fail(f"no tenant with slug {tenant!r}")
                raise AssertionError
            rows, _, _ = await audit.list_events(
                session, target.id, filters, PageParams(page=1, per_page=limit)
            )
            return [AuditEventRead.of(e).model_dump(mode="json") for e in rows]

    for event in _run(_settings(database_url), work):
        out.print(
            json.dumps(event, ensure_ascii=False), highlight=False, markup=False, soft_wrap=True
        )


if __name__ == "__main__":
    app()
