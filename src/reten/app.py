"""The application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from reten import __version__
from reten.activities.router import router as activities_router
from reten.activity_config.router import router as activity_config_router
from reten.admin import router as admin
from reten.api_keys.router import router as api_keys_router
from reten.apidocs.router import install_api_docs
from reten.audit.router import router as audit_router
from reten.auth.router import router as auth_router
from reten.commerces.router import router as commerces_router
from reten.config import Settings, get_settings
from reten.dispatch.actions import DispatchService
from reten.dispatch.actions_router import router as dispatch_actions_router
from reten.dispatch.router import router as dispatch_router
from reten.health import metrics_router
from reten.health import router as health_router
from reten.integration.router import router as integration_router
from reten.kit.counts import totals
from reten.kit.errors import ERROR_RESPONSES, install_error_handlers, is_storage_unavailable
from reten.kit.logging import configure_logging
from reten.kit.metrics import MetricsMiddleware
from reten.kit.middleware import RequestContextMiddleware
from reten.metrics import track_pool
from reten.operators.router import router as operators_router
from reten.resolution.router import router as resolution_router
from reten.results.router import router as results_router
from reten.routes.router import router as routes_router
from reten.runtime import Runtime
from reten.startup import prepare_database
from reten.tenants.router import router as tenants_router
from reten.users.router import router as users_router

log = structlog.get_logger("reten.app")

# Every router of the API, in mounting order. Tests walk this table to check that each route
# declares its access rule. A request is matched against the routes in this order, one regular
# expression each, so the integrators' pull API (the busiest by far) comes right after the
# health probes; no other router shares its /api/integration prefix.
ROUTERS = (
    health_router,
    metrics_router,
    integration_router,
    auth_router,
    tenants_router,
    users_router,
    api_keys_router,
    commerces_router,
    operators_router,
    routes_router,
    activities_router,
    resolution_router,
    results_router,
    activity_config_router,
    dispatch_router,
    dispatch_actions_router,
    audit_router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_production_safety()
    configure_logging(settings.log_level, settings.json_logs)
    totals.ttl = settings.count_cache_seconds

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.create(settings)
        dispatch = DispatchService(runtime.db, settings, runtime.secretbox)
        app.state.runtime = runtime
        app.state.dispatch = dispatch
        # The pool gauge of /metrics reads this process's pool.
        track_pool(runtime.db)
        try:
            await prepare_database(runtime.db, migrate=settings.migrate_on_start)
        except Exception as exc:
            if settings.migrate_on_start or not is_storage_unavailable(exc):
                raise
            # Start anyway: the API answers 503 until the database is back (R5); the attribute
            # keys and the dispatch providers are seeded by the next start or `reten db upgrade`.
            log.warning("catalogs_not_seeded", error=str(exc).splitlines()[0])
        # Everything allocated so far lives as long as the process: keep it out of the cyclic
        # garbage collector's full passes, which otherwise walk it again and again under load.
        gc.freeze()
        log.info("server_started", env=settings.env.value, database=runtime.db.dialect)
        stop = asyncio.Event()
        dispatcher = None
        if settings.run_dispatcher:
            dispatcher = asyncio.create_task(dispatch.dispatcher().run(stop))
        try:
            yield
        finally:
            stop.set()
            if dispatcher is not None:
                await dispatcher
            await dispatch.close()
            await runtime.close()

    app = FastAPI(
        title="Reten API",
        version=__version__,
        description="Field activities: commerces, operators, routes, activities and their results.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # FastAPI's own pages load their assets from a CDN; install_api_docs serves them locally.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_sync_body_bytes=settings.max_sync_body_bytes,
    )
    if settings.metrics_on:
        # Outermost, so a request's time includes every other middleware's.
        app.add_middleware(MetricsMiddleware)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    install_api_docs(app, openapi_url="/openapi.json", title=app.title)
    # The admin panel at `/`, after the API so that no panel path can shadow an API route.
    admin.install(app)
    return app
