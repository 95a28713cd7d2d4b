"""The navigation of the base layout: every page of the panel, in one place.

A page author adds the page's path here when the page exists (`path=None` keeps a planned page
out of the menu) and the permission needed to see it. The menu shows an entry only to callers
holding its permission; the view itself refuses callers without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reten.auth.permissions import Permission


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str | None
    permission: Permission | None = None
    section: str = "main"


NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/", Permission.VIEW_ACTIVITIES),
    NavItem("Activities", "/activities", Permission.VIEW_ACTIVITIES),
    NavItem("Results", "/results", Permission.VIEW_ACTIVITIES),
    NavItem("Dispatch configuration", "/dispatch-configs", Permission.VIEW_ACTIVITIES),
    NavItem("Result types", "/result-types", Permission.VIEW_ACTIVITIES),
    NavItem("Commerces", "/commerces", Permission.MANAGE_COMMERCES),
    NavItem("Operators", "/operators", Permission.MANAGE_OPERATORS),
    NavItem("Routes", "/routes", Permission.MANAGE_ROUTES),
    NavItem("Users", "/settings/users", Permission.VIEW_USERS, section="settings"),
    NavItem("API keys", "/settings/api-keys", Permission.MANAGE_API_KEYS, section="settings"),
    NavItem("Tenants", "/settings/tenants", Permission.CREATE_TENANT, section="settings"),
    NavItem("Audit log", "/settings/audit", Permission.VIEW_AUDIT_LOG, section="settings"),
)
