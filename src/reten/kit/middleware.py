"""Pure ASGI middleware: request ids, body size cap, rate-limit headers.

Pure ASGI (not BaseHTTPMiddleware) because these run on every request of the hot path.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reten.kit.errors import error_body


def _valid_request_id(value: bytes) -> bool:
    return 1 <= len(value) <= 128 and all(0x20 <= b < 0x7F for b in value)


class RequestContextMiddleware:
    """Assigns `x-request-id`, caps the body size, and copies rate-limit headers to the reply."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_sync_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_sync_body = max_sync_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        content_length: int | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _valid_request_id(value):
                request_id = value.decode()
            elif name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        if not request_id:
            request_id = str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        query = scope.get("query_string", b"")
        if b"%00" in query:
            # No stored text can hold NUL (PostgreSQL refuses it): a 400, not a failed query.
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            names = sorted({k for k, v in pairs if "\x00" in k + v})
            details = [{"field": n, "message": "must not contain NUL characters"} for n in names]
            await self._reply(send, request_id, 400, "Validation failed", details)
            return
        limit = self.max_sync_body if scope["path"].endswith("/sync") else self.max_body
        if content_length is not None and content_length > limit:
            await self._too_large(send, request_id, limit)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                decision = state.get("ratelimit")
                if decision is not None:
                    existing = {name.lower() for name, _ in headers}
                    headers.extend(h for h in decision.headers() if h[0] not in existing)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            await self._too_large(send, request_id, limit)

    async def _too_large(self, send: Send, request_id: str, limit: int) -> None:
        await self._reply(send, request_id, 413, f"Request body exceeds {limit} bytes")

    async def _reply(
        self,
        send: Send,
        request_id: str,
        status: int,
        message: str,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        body = orjson.dumps(error_body(status, message, details=details))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
