from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from reten.auth.permissions import Role, sort_roles
from reten.kit.pagination import Page
from reten.kit.schemas import Bool, InputModel, Name100, Password, ReadModel, Timestamp
from reten.kit.validators import Email, NoNull
from reten.users.models import User


def _distinct(roles: list[Role]) -> list[Role]:
    if len(set(roles)) != len(roles):
        raise ValueError("must not repeat a role")
    return roles


Roles = Annotated[list[Role], Field(min_length=1, max_length=4), AfterValidator(_distinct)]


class UserCreate(InputModel):
    email: Email
    password: Password
    first_name: Name100
    last_name: Name100
    roles: Roles


class UserUpdate(InputModel):
    first_name: Annotated[Name100 | None, NoNull] = None
    last_name: Annotated[Name100 | None, NoNull] = None
    is_active: Annotated[Bool | None, NoNull] = None


class RolesUpdate(InputModel):
    roles: Roles


class ResetMyPassword(InputModel):
    current_password: str
    new_password: Password


class ResetUserPassword(InputModel):
    user_id: uuid.UUID
    new_password: Password


class UserRead(ReadModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    roles: list[str]
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp

    @field_validator("roles")
    @classmethod
    def _highest_first(cls, value: list[str]) -> list[str]:
        return sort_roles(value)

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls.model_validate(user)


class UserRolesRead(ReadModel):
    id: uuid.UUID
    roles: list[str]


class UserPage(Page[UserRead]):
    """GET /api/user/tenant-users."""
