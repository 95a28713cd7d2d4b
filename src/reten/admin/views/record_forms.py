"""Form helpers shared by the record pages (operators, routes, commerces, tenants)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.datastructures import FormData

from reten.admin.web import FormErrors
from reten.kit.errors import AppError, Conflict


def body_of(
    form: FormData,
    names: Iterable[str],
    *,
    empty_is_null: Iterable[str] = (),
    required: Iterable[str] = (),
) -> dict[str, Any]:
    """The form as the API's JSON body.

    An empty input is "not given" (left out, so the schema's default applies), except for the
    inputs in `empty_is_null`: on an edit form, emptying an optional box clears the value, as an
    explicit `null` does in a PATCH. An emptied input in `required` is sent as typed, so that the
    schema refuses it at its field instead of the edit silently keeping the old value.
    """
    clearable = set(empty_is_null)
    kept = set(required)
    body: dict[str, Any] = {}
    for name in names:
        raw = form.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        if value:
            body[name] = value
        elif name in clearable:
            body[name] = None
        elif name in kept:
            body[name] = value
    return body


def errors_of(exc: AppError, inputs: tuple[str, ...]) -> FormErrors:
    """`FormErrors.of`, plus a 409 put next to the input it names.

    The services' unique violations answer "<field> already exists" without details (the API's
    body); "type + external_id already exists" belongs to the external id box.
    """
    errors = FormErrors.of(exc, inputs)
    if isinstance(exc, Conflict) and not exc.details:
        words = exc.message.replace("+", " ").split()
        named = [w for w in words if w in inputs]
        if named:
            errors.general.remove(exc.message)
            errors.fields[named[-1]] = exc.message
    return errors
