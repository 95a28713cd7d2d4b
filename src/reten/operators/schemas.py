"""Operator request and response shapes (management-api.md §3 Operator, §9)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import NUL_MESSAGE
from reten.kit.pagination import Page
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp
from reten.kit.sync import SyncBody
from reten.kit.validators import E164, Email, Metadata, NoNull, join_name
from reten.operators.models import Operator, OperatorType

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class OperatorCreate(InputModel):
    type: Annotated[OperatorType, NoNull]
    name: Annotated[Name255, NoNull]
    email: Email | None = None
    phone: E164 | None = None
    external_id: ExternalId | None = None
    is_placeholder: Annotated[bool, NoNull] = False
    metadata: Annotated[Metadata, NoNull] = Field(default_factory=dict)


class OperatorUpdate(InputModel):
    """PATCH body; `model_fields_set` tells "not given" from an explicit null (which clears)."""

    name: Annotated[Name255 | None, NoNull] = None
    email: Email | None = None
    phone: E164 | None = None
    is_active: Annotated[bool | None, NoNull] = None
    metadata: Annotated[Metadata | None, NoNull] = None


# Fields a PATCH refuses with 400 instead of ignoring (§9.4).
OPERATOR_IMMUTABLE = ("type", "external_id", "is_placeholder")


class OperatorSyncItem(InputModel):
    """One item of 9.6: (`type`, `external_id`) is the match key, so both are required."""

    type: Annotated[OperatorType, NoNull]
    external_id: Annotated[ExternalId, NoNull]
    name: Annotated[Name255, NoNull]
    email: Email | None = None
    phone: E164 | None = None
    is_active: Annotated[bool | None, NoNull] = None
    metadata: Annotated[Metadata | None, NoNull] = None


class OperatorSync(SyncBody[OperatorSyncItem]):
    """The body of 9.6 (validated item by item, see `kit.sync`)."""


class OperatorRead(ReadModel):
    id: uuid.UUID
    name: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    type: str
    external_id: str | None
    is_active: bool
    is_placeholder: bool
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, operator: Operator) -> OperatorRead:
        return cls(**_operator_fields(operator))


class OperatorRouteRead(ReadModel):
    """One route link of an operator, as shown in OperatorDetail."""

    id: uuid.UUID
    name: str
    external_id: str | None
    role: str
    link_active: bool


class OperatorDetailRead(OperatorRead):
    routes: list[OperatorRouteRead]

    @classmethod
    def of_detail(cls, operator: Operator, routes: list[OperatorRouteRead]) -> OperatorDetailRead:
        return cls(**_operator_fields(operator), routes=routes)


def _operator_fields(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": join_name(operator.first_name, operator.last_name),
        "first_name": operator.first_name,
        "last_name": operator.last_name,
        "email": operator.email,
        "phone": operator.phone,
        "type": operator.type,
        "external_id": operator.external_id,
        "is_active": operator.is_active,
        "is_placeholder": operator.is_placeholder,
        "metadata": operator.metadata_,
        "created_at": operator.created_at,
        "updated_at": operator.updated_at,
    }


class OperatorPage(Page[OperatorRead]):
    """GET /api/operators."""


def check_text(name: str, raw: str | None) -> str | None:
    """A free-text query parameter (exact-match filters, search)."""
    if raw is not None and "\x00" in raw:
        raise ValidationFailed.one(name, NUL_MESSAGE)
    return raw
