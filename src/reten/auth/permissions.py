"""Roles, the permission catalog and the role → permission table (management-api.md §1.3)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPER_ADMIN = "SUPER_ADMIN"
    ADMIN = "ADMIN"
    FDE = "FDE"
    VIEWER = "VIEWER"


# Highest first; a lower index is a higher rank.
ROLE_ORDER: tuple[Role, ...] = (Role.SUPER_ADMIN, Role.ADMIN, Role.FDE, Role.VIEWER)


def role_rank(role: Role) -> int:
    """Bigger is higher."""
    return len(ROLE_ORDER) - ROLE_ORDER.index(role)


def highest_role(roles: list[str] | tuple[str, ...]) -> Role | None:
    held = [Role(r) for r in roles if r in Role.__members__]
    return max(held, key=role_rank) if held else None


def sort_roles(roles: list[str]) -> list[str]:
    return [r.value for r in ROLE_ORDER if r.value in roles]


class Permission(StrEnum):
    CREATE_USER = "CREATE_USER"
    VIEW_USERS = "VIEW_USERS"
    UPDATE_USER = "UPDATE_USER"
    DELETE_USER = "DELETE_USER"
    RESET_USER_PASSWORD = "RESET_USER_PASSWORD"
    CREATE_TENANT = "CREATE_TENANT"
    VIEW_TENANTS = "VIEW_TENANTS"
    UPDATE_TENANT = "UPDATE_TENANT"
    DELETE_TENANT = "DELETE_TENANT"
    MANAGE_COMMERCES = "MANAGE_COMMERCES"
    SYNC_COMMERCES = "SYNC_COMMERCES"
    MANAGE_OPERATORS = "MANAGE_OPERATORS"
    SYNC_OPERATORS = "SYNC_OPERATORS"
    MANAGE_ROUTES = "MANAGE_ROUTES"
    VIEW_ACTIVITIES = "VIEW_ACTIVITIES"
    CREATE_ACTIVITY = "CREATE_ACTIVITY"
    CANCEL_ACTIVITY = "CANCEL_ACTIVITY"
    DISPATCH_ACTIVITY = "DISPATCH_ACTIVITY"
    MANAGE_ACTIVITY_CONFIG = "MANAGE_ACTIVITY_CONFIG"
    SUBMIT_ACTIVITY_RESULT = "SUBMIT_ACTIVITY_RESULT"
    MANAGE_API_KEYS = "MANAGE_API_KEYS"
    # Not in the spec's table: reading the audit trail (docs/audit.md), ADMIN and above.
    VIEW_AUDIT_LOG = "VIEW_AUDIT_LOG"


# The catalog order (the table's order) is the order of every permission list we return.
PERMISSION_ORDER: tuple[Permission, ...] = tuple(Permission)

_P = Permission
_ADMIN = frozenset(
    {
        _P.CREATE_USER, _P.VIEW_USERS, _P.UPDATE_USER, _P.RESET_USER_PASSWORD, _P.VIEW_TENANTS,
        _P.MANAGE_COMMERCES, _P.SYNC_COMMERCES, _P.MANAGE_OPERATORS, _P.SYNC_OPERATORS,
        _P.MANAGE_ROUTES, _P.VIEW_ACTIVITIES, _P.CREATE_ACTIVITY, _P.CANCEL_ACTIVITY,
        _P.DISPATCH_ACTIVITY, _P.MANAGE_ACTIVITY_CONFIG, _P.SUBMIT_ACTIVITY_RESULT,
        _P.MANAGE_API_KEYS, _P.VIEW_AUDIT_LOG,
    }
)  # fmt: skip
_FDE = frozenset(
    {
        _P.VIEW_USERS, _P.MANAGE_COMMERCES, _P.MANAGE_OPERATORS, _P.MANAGE_ROUTES,
        _P.VIEW_ACTIVITIES, _P.CREATE_ACTIVITY, _P.SUBMIT_ACTIVITY_RESULT,
    }
)  # fmt: skip

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: frozenset(Permission),
    Role.ADMIN: _ADMIN,
    Role.FDE: _FDE,
    Role.VIEWER: frozenset({_P.VIEW_ACTIVITIES}),
}


def permissions_for_roles(roles: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for role in roles:
        if role in Role.__members__:
            out |= ROLE_PERMISSIONS[Role(role)]
    return frozenset(out)


def sort_permissions(perms: set[str] | frozenset[str] | list[str]) -> list[str]:
    wanted = set(perms)
    return [p.value for p in PERMISSION_ORDER if p.value in wanted]


def outranks(
    caller_roles: list[str] | tuple[str, ...], target_roles: list[str] | tuple[str, ...]
) -> bool:
    """Rule H: the caller's highest role is strictly higher than the target's."""
    mine, theirs = highest_role(caller_roles), highest_role(target_roles)
    if mine is None:
        return False
    return theirs is None or role_rank(mine) > role_rank(theirs)


def may_grant(caller_roles: list[str] | tuple[str, ...], role: str) -> bool:
    """Rule G: only roles strictly below the caller's highest (SUPER_ADMIN grants anything)."""
    mine = highest_role(caller_roles)
    if mine is None or role not in Role.__members__:
        return False
    return mine == Role.SUPER_ADMIN or role_rank(mine) > role_rank(Role(role))
