"""Route request and response shapes (management-api.md §3 Route, RouteDetail, §10)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from reten.kit.pagination import Page
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp
from reten.kit.sync import SyncBody
from reten.kit.validators import Metadata, NoNull
from reten.operators.models import OperatorType
from reten.operators.schemas import ExternalId
from reten.routes.models import Route, RouteCommerce, RouteOperator, RouteOperatorRole

Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]
# A route can serve many commerces; the 10 MiB body cap bounds the batch as a whole.
MAX_SYNC_OPERATORS = 1000
MAX_SYNC_COMMERCES = 10_000


class RouteCreate(InputModel):
    name: Annotated[Name255, NoNull]
    external_id: ExternalId | None = None
    description: Description | None = None
    is_active: Annotated[bool, NoNull] = True
    metadata: Annotated[Metadata, NoNull] = Field(default_factory=dict)


class RouteUpdate(InputModel):
    """PATCH body; `model_fields_set` tells "not given" from an explicit null (which clears)."""

    name: Annotated[Name255 | None, NoNull] = None
    external_id: ExternalId | None = None
    description: Description | None = None
    is_active: Annotated[bool | None, NoNull] = None
    metadata: Annotated[Metadata | None, NoNull] = None


class RouteSyncOperator(InputModel):
    type: Annotated[OperatorType, NoNull]
    external_id: Annotated[ExternalId, NoNull]
    role: Annotated[RouteOperatorRole | None, NoNull] = None


class RouteSyncItem(InputModel):
    """One item of 10.6: `external_id` is the match key."""

    external_id: Annotated[ExternalId, NoNull]
    name: Annotated[Name255, NoNull]
    description: Description | None = None
    is_active: Annotated[bool | None, NoNull] = None
    metadata: Annotated[Metadata | None, NoNull] = None
    operators: Annotated[
        list[RouteSyncOperator] | None, NoNull, Field(max_length=MAX_SYNC_OPERATORS)
    ] = None
    commerce_external_ids: Annotated[
        list[ExternalId] | None, NoNull, Field(max_length=MAX_SYNC_COMMERCES)
    ] = None


class RouteSync(SyncBody[RouteSyncItem]):
    """The body of 10.6 (validated item by item, see `kit.sync`)."""


class RouteOperatorCreate(InputModel):
    operator_id: Annotated[uuid.UUID, NoNull]
    role: Annotated[RouteOperatorRole | None, NoNull] = None


class RouteCommerceCreate(InputModel):
    commerce_id: Annotated[uuid.UUID, NoNull]


class RouteRead(ReadModel):
    id: uuid.UUID
    name: str
    external_id: str | None
    description: str | None
    is_active: bool
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, route: Route) -> RouteRead:
        return cls(**_route_fields(route))


def _route_fields(route: Route) -> dict[str, Any]:
    return {
        "id": route.id,
        "name": route.name,
        "external_id": route.external_id,
        "description": route.description,
        "is_active": route.is_active,
        "metadata": route.metadata_,
        "created_at": route.created_at,
        "updated_at": route.updated_at,
    }


class RouteOperatorRead(ReadModel):
    route_id: uuid.UUID
    operator_id: uuid.UUID
    role: str
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, link: RouteOperator) -> RouteOperatorRead:
        return cls.model_validate(link)


class RouteOperatorSummary(ReadModel):
    id: uuid.UUID
    name: str | None
    external_id: str | None
    type: str
    is_active: bool


class RouteOperatorDetailRead(RouteOperatorRead):
    operator: RouteOperatorSummary


class RouteDetailRead(RouteRead):
    operators: list[RouteOperatorDetailRead]
    commerce_count: int

    @classmethod
    def of_detail(
        cls, route: Route, operators: list[RouteOperatorDetailRead], commerce_count: int
    ) -> RouteDetailRead:
        return cls(**_route_fields(route), operators=operators, commerce_count=commerce_count)


class RouteCommerceRead(ReadModel):
    route_id: uuid.UUID
    commerce_id: uuid.UUID
    created_at: Timestamp

    @classmethod
    def of(cls, link: RouteCommerce) -> RouteCommerceRead:
        return cls.model_validate(link)


class RoutePage(Page[RouteRead]):
    """GET /api/routes."""
