"""Base classes and field types shared by every domain's schemas."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PrivateAttr,
    Strict,
    StringConstraints,
)

from reten.kit.casing import Spelling, to_camel
from reten.kit.time import iso, parse_iso

TIMESTAMP_MESSAGE = "must be an ISO 8601 timestamp with a time zone"


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(TIMESTAMP_MESSAGE)
        return value
    if not isinstance(value, str):
        raise ValueError(TIMESTAMP_MESSAGE)
    try:
        return parse_iso(value)
    except ValueError:
        raise ValueError(TIMESTAMP_MESSAGE) from None


# Input: ISO 8601 with Z or an offset; output: YYYY-MM-DDTHH:MM:SS.sssZ.
Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_timestamp),
    PlainSerializer(lambda v: iso(v), return_type=str),
]
# JSON booleans and integers only: "yes", "1" or 1.0 are refused, not coerced.
Bool = Annotated[bool, Strict()]
Int = Annotated[int, Strict()]
Name255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Name100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class InputModel(BaseModel):
    """Request bodies: snake_case fields (camelCase is normalised before validation)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class SpelledInput(InputModel):
    """A parsed body that remembers how the caller spelled its fields.

    Rules that need storage (a provider's credential schema, say) are checked by the service,
    which names fields the caller's way through `spelled`; `kit.jsonbody` fills the spelling."""

    _spelling: Spelling = PrivateAttr(default_factory=Spelling)

    def spelled(self, *loc: str | int) -> str:
        return self._spelling.path(loc)


class ReadModel(BaseModel):
    """Responses: camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every $ref inlined, for use in `openapi_extra`."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(copy.deepcopy(defs[ref.split("/")[-1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }
