"""JSON responses encoded with orjson, with ETag / If-None-Match support for cacheable GETs."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import Request, Response


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=orjson.dumps(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = [c.strip() for c in if_none_match.split(",")]
    # Weak comparison (RFC 9110 §13.1.2): W/"x" and "x" name the same representation.
    bare = etag.removeprefix("W/")
    return any(c == "*" or c.removeprefix("W/") == bare for c in candidates)


def etag_json_response(request: Request, body: Any) -> Response:
    """200 with an ETag over the encoded body, or 304 without a body when the client has it."""
    return etag_encoded_response(request, orjson.dumps(body))


def etag_encoded_response(request: Request, content: bytes) -> Response:
    """`etag_json_response` for a body already encoded as JSON."""
    etag = '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type="application/json", headers=headers)
