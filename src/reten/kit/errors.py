"""Domain exceptions and the one renderer of the standard error body.

Services raise these; `install_error_handlers` turns every failure, including framework ones
(unknown route, wrong method, request validation, crashes), into
`{"statusCode", "error", "message"[, "details"][, ...]}`.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("reten.errors")


class AppError(Exception):
    status_code: int = 500
    default_message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    status_code = 400
    default_message = "Bad request"


class ValidationFailed(BadRequest):
    """400 with one `details` entry per problem; `field` is spelled as the caller spelled it."""

    default_message = "Validation failed"

    def __init__(self, details: list[dict[str, str]], message: str | None = None) -> None:
        if message is None:
            message = (
                f"{details[0]['field']} {details[0]['message']}"
                if len(details) == 1 and details[0]["field"]
                else self.default_message
            )
        super().__init__(message, details=details)

    @classmethod
    def one(cls, field: str, message: str) -> ValidationFailed:
        return cls([{"field": field, "message": message}])


class InvalidTransition(BadRequest):
    default_message = "Invalid status transition"


class Unauthorized(AppError):
    status_code = 401
    default_message = "Unauthorized"


class PermissionDenied(AppError):
    status_code = 403
    default_message = "Insufficient permissions"


class NotFound(AppError):
    status_code = 404
    default_message = "Not found"


class Conflict(AppError):
    status_code = 409
    default_message = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    default_message = "Request body too large"


class Unprocessable(AppError):
    status_code = 422
    default_message = "Unprocessable request"


class TooManyRequests(AppError):
    status_code = 429
    default_message = "Too many requests"


class BadGateway(AppError):
    """An upstream the request depends on (a dispatch provider) answered with a failure."""

    status_code = 502
    default_message = "Bad gateway"


class ServiceUnavailable(AppError):
    status_code = 503
    default_message = "Service temporarily unavailable"


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """The standard error body, as the OpenAPI documents it for every error status."""

    # Some errors carry a field of their own (a 409 names the result that won, a 429 when to
    # retry); the documented core is the same for all.
    model_config = ConfigDict(extra="allow")

    statusCode: int  # the wire name, as every error body spells it
    error: str
    message: str
    details: list[ErrorDetail] | None = None


# What any operation may answer besides its success: the app adds these to every route, so
# generated clients and the fuzzer know the error body. Statuses an operation can never give
# are harmless to document; an undocumented one is a broken contract.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (
            400,
            "Invalid request: the body, a parameter or a header is malformed (`details` per field)",
        ),
        (401, "Missing, invalid, expired or revoked credentials"),
        (403, "The credential lacks the permission this operation requires"),
        (404, "No such object in the caller's tenant"),
        (409, "Conflict with the current state (duplicate key, concurrent change, final result)"),
        (413, "Request body over the size limit"),
        (422, "Well-formed but not processable in the current state"),
        (429, "Rate limit exceeded; retry after `Retry-After` seconds"),
        (503, "Storage unavailable; retry later"),
    )
}


def reason_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def error_body(
    status_code: int,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "statusCode": status_code,
        "error": reason_phrase(status_code),
        "message": message,
    }
    if details is not None:
        body["details"] = details
    if extra:
        body.update(extra)
    return body


def error_response(
    status_code: int,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = error_body(status_code, message, details=details, extra=extra)
    return Response(
        content=orjson.dumps(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", None) or uuid.uuid4())


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    """FastAPI locations look like ('query', 'per_page') or ('body', 'items', 3, 'name')."""
    parts = list(loc)
    if parts and parts[0] in ("query", "path", "header", "cookie", "body"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        extra = dict(exc.extra)
        if exc.status_code >= 500:
            extra["requestId"] = _request_id(request)
        return error_response(
            exc.status_code, exc.message, details=exc.details, extra=extra, headers=exc.headers
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = "Not found" if exc.detail in (None, "Not Found") else str(exc.detail)
            message = (
                f"Cannot {request.method} {request.url.path}" if message == "Not found" else message
            )
        elif exc.status_code == 405:
            message = f"Method {request.method} not allowed on {request.url.path}"
        else:
            message = str(exc.detail) if exc.detail else reason_phrase(exc.status_code)
        # A front door with its own error pages (the admin panel) answers for its paths.
        page_for = getattr(request.app.state, "error_page_for", None)
        page = page_for(request, exc.status_code, message) if page_for else None
        if page is not None:
            return page  # type: ignore[no-any-return]
        extra = {"requestId": _request_id(request)} if exc.status_code >= 500 else None
        return error_response(
            exc.status_code, message, extra=extra, headers=dict(exc.headers or {})
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            details.append({"field": _loc_to_field(loc), "message": _humanise(err)})
        message = (
            f"{details[0]['field']} {details[0]['message']}"
            if len(details) == 1
            else "Validation failed"
        )
        return error_response(400, message, details=details)

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        log.error("database_unavailable", error=str(exc).splitlines()[0] if str(exc) else "")
        return error_response(
            503,
            "Service temporarily unavailable",
            extra={"requestId": _request_id(request)},
            headers={"Retry-After": "5"},
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_storage_unavailable(exc):
            return await database_unavailable(request, exc)
        log.exception("unhandled_error", path=request.url.path, method=request.method)
        response = error_response(
            500, "Internal server error", extra={"requestId": _request_id(request)}
        )
        response.headers["x-request-id"] = _request_id(request)
        return response

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(Exception, unexpected)


# SQLSTATEs that mean "the database cannot be reached or used right now", not "this query is
# wrong": connection exceptions (class 08), shutdowns and start-ups (57P01-57P03), a missing
# database (3D000), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "3D000", "53300")


def is_storage_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached or used right now."""
    if isinstance(exc, (OperationalError, ConnectionError, OSError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return False


def _humanise(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind in ("int_parsing", "int_type"):
        return "must be an integer"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind == "uuid_parsing":
        return "must be a UUID"
    msg = str(err.get("msg", "is invalid"))
    return msg[0].lower() + msg[1:] if msg else "is invalid"
