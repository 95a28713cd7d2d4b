"""Operator request and response shapes (management-api.md §3 Operator, §9), and the sync batch.

`SyncBatch` is the parsed body of a `…/sync` endpoint (rule S): every item is validated on its
own, so one bad item does not hide the problems of the others, and the service adds the problems
only storage can reveal (duplicates, conflicts, unknown references) before rejecting the batch as
a whole. Routes reuse it for their own sync.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from reten.kit.casing import Spelling, normalise_keys
from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import NUL_MESSAGE, details_from, humanise, nul_paths, parse_object
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp
from reten.kit.validators import E164, Email, Metadata, NoNull, join_name
from reten.operators.models import Operator, OperatorType

# Keys whose values are the caller's data and are never re-cased (§1.4).
FREEFORM = frozenset({"metadata"})
MAX_SYNC_ITEMS = 1000

ModelT = TypeVar("ModelT", bound=BaseModel)

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


class OperatorSync(InputModel):
    """Documents the body of 9.6 in the OpenAPI; parsing goes through `parse_sync_batch`."""

    items: list[OperatorSyncItem] = Field(min_length=1, max_length=MAX_SYNC_ITEMS)


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


class PageMeta(ReadModel):
    page: int
    limit: int
    total: int
    total_pages: int
    total_is_estimate: bool | None = Field(default=None, description="present (true) when capped")


class OperatorPage(ReadModel):
    data: list[OperatorRead]
    meta: PageMeta


class SyncResultRead(ReadModel):
    created: int
    updated: int
    total: int


def json_body(
    model: type[ModelT], immutable: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[ModelT]]:
    """Dependency reading a request body into `model` with `parse_body`'s rules."""

    async def dependency(request: Request) -> ModelT:
        return parse_body(model, parse_object(await request.body()), immutable)

    return dependency


def check_text(name: str, raw: str | None) -> str | None:
    """A free-text query parameter (exact-match filters, search)."""
    if raw is not None and "\x00" in raw:
        raise ValidationFailed.one(name, NUL_MESSAGE)
    return raw


def parse_body(
    model: type[ModelT], data: dict[str, Any], immutable: tuple[str, ...] = ()
) -> ModelT:
    """A request body: NUL characters, immutable fields and schema problems reported together."""
    problems = [{"field": path, "message": NUL_MESSAGE} for path in nul_paths(data, "")]
    normalised, spelling = normalise_keys(data, FREEFORM)
    problems.extend(
        {"field": spelling.keys.get(name, name), "message": "is immutable"}
        for name in immutable
        if name in normalised
    )
    try:
        parsed = model.model_validate(normalised)
    except ValidationError as exc:
        problems.extend(details_from(exc, spelling))
    if problems:
        raise ValidationFailed(problems)
    return parsed


@dataclass
class SyncBatch(Generic[ModelT]):
    """The items of a sync body, each validated alone; `None` marks an item that failed."""

    items: list[ModelT | None]
    spelling: Spelling
    problems: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def valid(self) -> Iterator[tuple[int, ModelT]]:
        for index, item in enumerate(self.items):
            if item is not None:
                yield index, item

    def path(self, index: int, *loc: str | int) -> str:
        """`items[i].…` spelled the way the caller spelled the keys."""
        return self.spelling.path(("items", index, *loc))

    def problem(self, index: int, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append((index, {"field": self.path(index, *loc), "message": message}))

    def reject_if_invalid(self) -> None:
        """Rule S: one bad item rejects the whole batch, listing every problem found."""
        if not self.problems:
            return
        ordered = sorted(self.problems, key=lambda p: p[0])  # stable: keeps per-item order
        invalid = len({index for index, _ in ordered})
        raise ValidationFailed(
            [detail for _, detail in ordered], message=f"Sync rejected: {invalid} invalid items"
        )


def parse_sync_batch(model: type[ModelT], data: dict[str, Any]) -> SyncBatch[ModelT]:
    normalised, spelling = normalise_keys(data, FREEFORM)
    if "items" not in normalised:
        raise ValidationFailed.one("items", "is required")
    raw_items = normalised["items"]
    if not isinstance(raw_items, list):
        raise ValidationFailed.one("items", "must be an array")
    if not 1 <= len(raw_items) <= MAX_SYNC_ITEMS:
        raise ValidationFailed.one("items", f"must hold 1-{MAX_SYNC_ITEMS} items")
    originals = data[spelling.keys["items"]]  # as sent, for paths spelled the caller's way
    batch: SyncBatch[ModelT] = SyncBatch(items=[], spelling=spelling)
    for index, raw in enumerate(raw_items):
        nul = list(nul_paths(originals[index], f"items[{index}]"))
        if nul:
            batch.items.append(None)
            batch.problems.extend((index, {"field": p, "message": NUL_MESSAGE}) for p in nul)
            continue
        try:
            batch.items.append(model.model_validate(raw))
        except ValidationError as exc:
            batch.items.append(None)
            for err in exc.errors(include_url=False):
                # Pydantic adds validator names ("function-after[…]") to locations; drop them.
                loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
                batch.problem(index, loc, humanise(err))
    return batch


def sync_body(model: type[ModelT]) -> Callable[[Request], Awaitable[SyncBatch[ModelT]]]:
    """Dependency reading a `…/sync` body into a batch of `model` items."""

    async def dependency(request: Request) -> SyncBatch[ModelT]:
        return parse_sync_batch(model, parse_object(await request.body()))

    return dependency
