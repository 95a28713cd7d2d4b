from __future__ import annotations

import uuid

from reten.kit.schemas import InputModel, Password, ReadModel


class LoginCreate(InputModel):
    identifier: str
    password: Password


class UserBrief(ReadModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str


class LoginRead(ReadModel):
    access_token: str
    expires_in: int
    user: UserBrief


class RefreshRead(ReadModel):
    access_token: str
    expires_in: int


class MessageRead(ReadModel):
    message: str


class MeRead(ReadModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    tenant_ids: list[uuid.UUID]
    roles: list[str]
    permissions: list[str]
