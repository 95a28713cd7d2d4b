"""Reading a JSON request body into a schema, with the API's error rules.

Not valid JSON or not an object → 400 `Malformed JSON body`; deeper than 32 levels → 400;
schema errors → 400 with `details` naming fields as the caller spelled them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from reten.kit.casing import Spelling, normalise_keys
from reten.kit.errors import BadRequest, ValidationFailed
from reten.kit.schemas import SpelledInput

MAX_DEPTH = 32
MAX_ARRAY_ITEMS = 10_000

ModelT = TypeVar("ModelT", bound=BaseModel)


def _check_shape(value: Any) -> None:
    """Refuse bodies nested deeper than MAX_DEPTH (objects and arrays; a scalar adds no level)
    or holding an array longer than MAX_ARRAY_ITEMS, before any schema sees them.

    Iterative: a hostile body must not be able to blow the interpreter's stack. The array cap
    sits far above every legitimate list (a sync or a batch takes at most 1 000 items, which
    their schemas enforce with their own messages): it only keeps a body of a million tiny
    elements from costing seconds of validation.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            if len(node) > MAX_ARRAY_ITEMS:
                raise BadRequest(f"JSON body has an array of more than {MAX_ARRAY_ITEMS} items")
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise BadRequest(f"JSON body is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def parse_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("Malformed JSON body")
    _check_shape(data)
    return data


def details_from(
    exc: ValidationError, spelling: Spelling, messages: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    details = []
    for err in exc.errors(include_url=False):
        loc = clean_loc(err["loc"])
        message = (messages or {}).get(err["type"]) or humanise(err)
        details.append({"field": spelling.path(loc), "message": message})
    return details


def clean_loc(loc: Iterable[str | int]) -> tuple[str | int, ...]:
    """Pydantic adds validator names ("function-after[…]") to locations; drop them."""
    return tuple(part for part in loc if not (isinstance(part, str) and "[" in part))


def humanise(err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return (
            "must not be empty"
            if ctx.get("min_length") == 1
            else (f"must be at least {ctx.get('min_length')} characters")
        )
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("bool_type", "bool_parsing"):
        return "must be a boolean"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "list_type":
        return "must be an array"
    if kind == "uuid_parsing" or kind == "uuid_type":
        return "must be a UUID"
    if kind == "enum":
        return (
            f"must be one of {ctx.get('expected', '').replace(' or ', ', ').replace(chr(39), '')}"
        )
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "is invalid")))
    msg = str(err.get("msg", "is invalid"))
    return msg[0].lower() + msg[1:] if msg else "is invalid"


NUL_MESSAGE = "must not contain NUL characters"


def nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where the body holds U+0000 (keys too), as the caller spelled the path.

    PostgreSQL refuses NUL in text and JSONB: it must be a 400 here, not a failed insert.
    """
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                yield child_path
            yield from nul_paths(child, child_path)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from nul_paths(child, f"{path}[{index}]")


# Keys whose values are the caller's data and are never re-cased (management-api.md §1.4).
FREEFORM = frozenset({"metadata"})
IMMUTABLE = "is immutable"


def immutable(*names: str) -> dict[str, str]:
    """`refused` for fields a PATCH refuses with 400 instead of ignoring."""
    return dict.fromkeys(names, IMMUTABLE)


def validate_spelled(
    model: type[ModelT],
    data: dict[str, Any],
    freeform: frozenset[str] = FREEFORM,
    *,
    refused: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
    messages: Mapping[str, str] | None = None,
) -> tuple[ModelT, Spelling]:
    """Validate a parsed body; every problem is reported at once, named as the caller spelled it.

    In order: NUL characters, `refused` fields (snake_case name -> message, e.g. immutable
    fields) that were sent, schema errors (`messages` overrides the text of an error type), and,
    when the schema is valid, the model's own cross-field rules: a `problems()` method returning
    `(location, message)` pairs.
    """
    problems = [{"field": p, "message": NUL_MESSAGE} for p in nul_paths(data)]
    normalised, spelling = normalise_keys(data, freeform)
    problems += [
        {"field": spelling.path((name,)), "message": message}
        for name, message in (refused or {}).items()
        if name in normalised
    ]
    try:
        validated = model.model_validate(normalised, context=context)
    except ValidationError as exc:
        raise ValidationFailed(problems + details_from(exc, spelling, messages)) from None
    check = getattr(validated, "problems", None)
    if callable(check):
        problems += [{"field": spelling.path(loc), "message": m} for loc, m in check()]
    if problems:
        raise ValidationFailed(problems)
    if isinstance(validated, SpelledInput):
        validated._spelling = spelling
    return validated, spelling


def validate_body(
    model: type[ModelT],
    data: dict[str, Any],
    freeform: frozenset[str] = FREEFORM,
    *,
    refused: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
    messages: Mapping[str, str] | None = None,
) -> ModelT:
    """`validate_spelled` without the spelling."""
    return validate_spelled(
        model, data, freeform, refused=refused, context=context, messages=messages
    )[0]


def body_of(
    model: type[ModelT],
    freeform: frozenset[str] = FREEFORM,
    *,
    refused: Mapping[str, str] | None = None,
    context: Callable[[Request], dict[str, Any]] | None = None,
    messages: Mapping[str, str] | None = None,
) -> Callable[[Request], Awaitable[ModelT]]:
    """Dependency that reads the request body into `model` with `validate_body`'s rules;
    `context` gives the validators what they need from the request (e.g. the settings)."""

    async def dependency(request: Request) -> ModelT:
        raw = parse_object(await request.body())
        given = context(request) if context is not None else None
        return validate_body(
            model, raw, freeform, refused=refused, context=given, messages=messages
        )

    return dependency


def spelled(
    raw: dict[str, Any], names: Iterable[str], freeform: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The caller's spelling of each dotted snake_case field name, for messages about them."""
    _, spelling = normalise_keys(raw, freeform)
    return {name: spelling.path(tuple(name.split("."))) for name in names}
