"""Exceptions of the SDK: one class per status family, each carrying what a caller needs to act.

Every API error keeps the HTTP status, the standard error body (`{"statusCode", "error",
"message", ...}`) and the request id the server answered with, so a support ticket can quote it.
"""

from __future__ import annotations

from typing import Any

import httpx


class RetenError(Exception):
    """Base of every exception the SDK raises."""


class APIError(RetenError):
    """The server answered with an error status."""

    def __init__(
        self, message: str, *, status: int, body: dict[str, Any], request_id: str | None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.request_id = request_id
        # True when the SDK had retried the call before this answer came.
        self.retried = False

    def __str__(self) -> str:
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.status} {self.message}{suffix}"


class ValidationError(APIError):
    """400: the request was refused; `details` lists each field and what is accepted."""

    @property
    def details(self) -> list[dict[str, str]]:
        details = self.body.get("details")
        return list(details) if isinstance(details, list) else []


class AuthenticationError(APIError):
    """401: the API key is missing, malformed, unknown, revoked or expired."""


class PermissionDeniedError(APIError):
    """403: the key is valid but lacks the permission this call needs."""


class NotFoundError(APIError):
    """404: the activity, commerce or other resource does not exist in the key's tenant."""


class ConflictError(APIError):
    """409: e.g. the activity already has a final result (`result_id` names it)."""

    @property
    def result_id(self) -> str | None:
        value = self.body.get("resultId")
        return value if isinstance(value, str) else None

    @property
    def activity_id(self) -> str | None:
        value = self.body.get("activityId")
        return value if isinstance(value, str) else None


class UnprocessableError(APIError):
    """422: an Idempotency-Key was reused with a different request body."""


class RateLimitError(APIError):
    """429: the key's request budget is spent; try again after `retry_after` seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: dict[str, Any],
        request_id: str | None,
        retry_after: float | None,
    ) -> None:
        super().__init__(message, status=status, body=body, request_id=request_id)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed; retried automatically, raised once the retries are spent."""


class ConnectionError(RetenError):
    """No HTTP answer: the connection could not be made or was dropped."""


class TimeoutError(ConnectionError):
    """No HTTP answer within the configured timeout."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
}


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the API sends seconds; an HTTP date is accepted too)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error response, with the standard body (or a stand-in for one)."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    body: dict[str, Any] = (
        parsed
        if isinstance(parsed, dict)
        else {"statusCode": response.status_code, "error": response.reason_phrase,
              "message": response.text[:500] or response.reason_phrase}
    )  # fmt: skip
    message = str(body.get("message") or response.reason_phrase or "HTTP error")
    status = response.status_code
    request_id = response.headers.get("x-request-id") or body.get("requestId")
    if status == 429:
        return RateLimitError(
            message,
            status=status,
            body=body,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(message, status=status, body=body, request_id=request_id)
