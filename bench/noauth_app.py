"""The Reten app plus one unauthenticated copy of the task-list endpoint, for P5.

P5 measures what API-key authentication costs. To isolate that, the reference route must run the
*same* handler as `GET /api/integration/activities/tasks` (same query parameters, same service
calls, same encoding) with only the auth dependency swapped for a constant principal. So instead
of re-implementing the handler we register the integration endpoint function itself a second
time, with a signature whose `principal` default is a dependency returning a fixed principal.

Served with `uvicorn bench.noauth_app:create_app --factory`; settings come from the usual
RETEN_* variables, the fixed tenant from RETEN_BENCH_TENANT_ID. Never deploy this module: the
extra route bypasses authentication by design.
"""

from __future__ import annotations

import inspect
import os
import uuid
from typing import Any

from fastapi import Depends, FastAPI

from reten.app import create_app as create_reten_app
from reten.auth.permissions import Permission
from reten.auth.principal import Principal, PrincipalKind
from reten.config import Settings
from reten.integration.router import list_tasks as integration_list_tasks

NOAUTH_PATH = "/bench/tasks-noauth"


def _fixed_principal_dependency(tenant_id: uuid.UUID) -> Any:
    principal = Principal(
        kind=PrincipalKind.API_KEY,
        user_id=uuid.UUID(int=0),
        email=None,
        roles=("ADMIN",),
        permissions=frozenset({Permission.VIEW_ACTIVITIES}),
        tenant_id=tenant_id,
        api_key_id=None,
        api_key_name="bench-noauth",
        tenant_locale="es",
    )

    async def bench_principal() -> Principal:
        return principal

    return bench_principal


def _without_auth(tenant_id: uuid.UUID) -> Any:
    """The integration list handler with its `principal` dependency replaced."""
    # eval_str resolves the handler's string annotations (it uses postponed annotations) in its
    # own module, so FastAPI sees real types on our copy of the signature.
    signature = inspect.signature(integration_list_tasks, eval_str=True)
    params = [
        p.replace(default=Depends(_fixed_principal_dependency(tenant_id)))
        if p.name == "principal"
        else p
        for p in signature.parameters.values()
    ]

    async def tasks_noauth(**kwargs: Any) -> Any:
        return await integration_list_tasks(**kwargs)

    tasks_noauth.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return tasks_noauth


def create_app() -> FastAPI:
    settings = Settings()
    app = create_reten_app(settings)
    tenant_id = uuid.UUID(os.environ["RETEN_BENCH_TENANT_ID"])
    app.add_api_route(
        NOAUTH_PATH, _without_auth(tenant_id), methods=["GET"], include_in_schema=False
    )
    return app
