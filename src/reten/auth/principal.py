"""The authenticated caller of a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from reten.auth.permissions import Permission, Role, highest_role
from reten.kit.actor import Actor, ActorType


class PrincipalKind(StrEnum):
    USER = "USER"
    API_KEY = "API_KEY"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    user_id: uuid.UUID
    email: str | None
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    tenant_id: uuid.UUID | None
    api_key_id: uuid.UUID | None = None
    api_key_name: str | None = None
    # Known for API keys (read with the key); labels rendered for integrators use it.
    tenant_locale: str = "es"

    @property
    def highest_role(self) -> Role | None:
        return highest_role(self.roles)

    @property
    def is_super_admin(self) -> bool:
        return Role.SUPER_ADMIN.value in self.roles

    def actor(self) -> Actor:
        if self.kind == PrincipalKind.API_KEY:
            return Actor(ActorType.API_KEY, self.api_key_id, self.api_key_name)
        return Actor(ActorType.USER, self.user_id, self.email)

    def require_tenant(self) -> uuid.UUID:
        assert self.tenant_id is not None, "tenant-scoped endpoint without a tenant context"
        return self.tenant_id
