"""The record pages (operators, routes, commerces, tenants, the audit log) as one page family.

They are mounted together so that `router.py` names them once.
"""

from __future__ import annotations

from reten.admin.views import audit, commerces, operators, routes, tenants
from reten.admin.web import panel_router

router = panel_router()
for view in (operators.router, routes.router, commerces.router, tenants.router, audit.router):
    router.include_router(view)
