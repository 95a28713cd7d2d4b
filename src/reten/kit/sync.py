"""The body of every `…/sync` endpoint (rule S), validated item by item.

Every item is validated on its own, so one bad item does not hide the problems of the others;
the problems are kept, not raised, so that the service can add those only storage can reveal
(duplicates, a key held by another row, unknown references) and then reject the batch as a
whole with all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError

from reten.kit.casing import Spelling, normalise_keys, to_snake
from reten.kit.errors import ValidationFailed
from reten.kit.jsonbody import FREEFORM, NUL_MESSAGE, clean_loc, humanise, nul_paths, parse_object
from reten.kit.schemas import InputModel, ReadModel

MAX_SYNC_ITEMS = 1000

ItemT = TypeVar("ItemT", bound=BaseModel)
# A location is a path of field names and indexes, or a path already spelled the caller's way
# (the NUL check walks the raw body, so it knows the spelling itself).
Loc = tuple[str | int, ...]


class SyncBody(InputModel, Generic[ItemT]):
    """Documents a sync body in the OpenAPI; parsing goes through `parse_sync`."""

    items: list[ItemT] = Field(min_length=1, max_length=MAX_SYNC_ITEMS)


class SyncResultRead(ReadModel):
    created: int
    updated: int
    total: int


@lru_cache(maxsize=4096)
def _snake(key: str) -> str:
    return to_snake(key)


def snake_keys(data: Any, freeform: frozenset[str] = FREEFORM) -> Any:
    """`normalise_keys` without the spelling record, for the sync hot path: the spelling of an
    item is worked out only when that item has a problem to report (snake_case wins here too)."""
    # A body already in snake_case (the usual case) is returned as is, not copied: a sync of
    # 1000 items would otherwise allocate tens of thousands of objects for nothing.
    if isinstance(data, list):
        converted = [snake_keys(value, freeform) for value in data]
        same = all(new is old for new, old in zip(converted, data, strict=True))
        return data if same else converted
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    camel: list[tuple[str, Any]] = []
    changed = False
    for key, value in data.items():
        snake = _snake(key)
        if snake == key:
            new = value if key in freeform else snake_keys(value, freeform)
            changed = changed or new is not value
            out[key] = new
        else:
            camel.append((snake, value))
    for snake, value in camel:
        changed = True
        if snake not in out:
            out[snake] = value if snake in freeform else snake_keys(value, freeform)
    return out if changed else data


@dataclass
class SyncBatch(Generic[ItemT]):
    """A sync body validated item by item: the valid items, and the problems of the others."""

    raw: list[Any]
    items: list[ItemT | None]
    items_key: str = "items"
    problems: dict[int, list[tuple[Loc | str, str]]] = field(default_factory=dict)
    _spellings: dict[int, Spelling] = field(default_factory=dict)

    def add(self, index: int, loc: Loc | str, message: str) -> None:
        self.problems.setdefault(index, []).append((loc, message))

    def valid(self) -> list[tuple[int, ItemT]]:
        return [(i, item) for i, item in enumerate(self.items) if item is not None]

    def item_spelling(self, index: int) -> Spelling:
        if index not in self._spellings:
            self._spellings[index] = normalise_keys(self.raw[index], FREEFORM)[1]
        return self._spellings[index]

    def inner_path(self, index: int, loc: Loc | str) -> str:
        """`users[0].externalId`: where in item `index` a problem is, as the caller spelled it."""
        return loc if isinstance(loc, str) else self.item_spelling(index).path(loc)

    def path(self, index: int, loc: Loc | str = ()) -> str:
        """`items[3].users[0].externalId`: the path of a problem, as the caller spelled it."""
        inner = self.inner_path(index, loc)
        return f"{self.items_key}[{index}]" + (f".{inner}" if inner else "")

    def reject_if_invalid(self) -> None:
        """Rule S: one bad item rejects the whole batch, listing every problem found."""
        if self.problems:
            raise SyncRejected(self)


class SyncRejected(ValidationFailed):
    """Rule S: the batch is refused as a whole. `by_item` keeps each bad item's problems with
    paths relative to the item, for callers (the importer) that retry without them."""

    def __init__(self, batch: SyncBatch[Any]) -> None:
        self.by_item: dict[int, list[dict[str, str]]] = {}
        details = []
        for index in sorted(batch.problems):
            for loc, message in batch.problems[index]:
                details.append({"field": batch.path(index, loc), "message": message})
                self.by_item.setdefault(index, []).append(
                    {"field": batch.inner_path(index, loc), "message": message}
                )
        super().__init__(details, f"Sync rejected: {len(self.by_item)} invalid items")


def parse_sync(
    model: type[ItemT], data: dict[str, Any], *, may_hold_nul: bool = True
) -> SyncBatch[ItemT]:
    """Validate a sync body item by item, with the item's own cross-field rules (a `problems()`
    method) when its schema is valid. `may_hold_nul=False` skips the NUL walk when the raw bytes
    show there is none (JSON can only carry NUL as the escape `\\u0000`)."""
    key = "items" if "items" in data else next((k for k in data if _snake(k) == "items"), None)
    if key is None:
        raise ValidationFailed.one("items", "is required")
    raw_items = data[key]
    if not isinstance(raw_items, list):
        raise ValidationFailed.one(key, "must be an array")
    if not 1 <= len(raw_items) <= MAX_SYNC_ITEMS:
        raise ValidationFailed.one(key, f"must hold 1-{MAX_SYNC_ITEMS} items")
    batch: SyncBatch[ItemT] = SyncBatch(raw=raw_items, items=[], items_key=key)
    for i, raw in enumerate(raw_items):
        if may_hold_nul:
            for path in nul_paths(raw):
                batch.add(i, path, NUL_MESSAGE)
        try:
            item = model.model_validate(snake_keys(raw))
        except ValidationError as exc:
            batch.items.append(None)
            for err in exc.errors(include_url=False):
                batch.add(i, clean_loc(err["loc"]), humanise(err))
            continue
        check = getattr(item, "problems", None)
        problems = check() if callable(check) else []
        # Rule S: an item with a problem is not written, so it does not count as valid either.
        batch.items.append(None if problems or i in batch.problems else item)
        for loc, message in problems:
            batch.add(i, loc, message)
    return batch


def sync_body(model: type[ItemT]) -> Callable[[Request], Awaitable[SyncBatch[ItemT]]]:
    """Dependency reading a `…/sync` body into a batch of `model` items."""

    async def dependency(request: Request) -> SyncBatch[ItemT]:
        raw = await request.body()
        return parse_sync(model, parse_object(raw), may_hold_nul=b"u0000" in raw)

    return dependency
