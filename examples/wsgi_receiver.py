"""Receive Reten's push deliveries in a plain WSGI app (no framework; Flask and Django read the
body and headers the same way).

    RETEN_SIGNING_SECRET=whsec_... python wsgi_receiver.py   # serves on :8080
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from reten.receiver import ActivityDispatched, PayloadError, SignatureError, verify

SECRETS = os.environ.get("RETEN_SIGNING_SECRET", "").split()
received: dict[str, ActivityDispatched] = {}


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    # WSGI spells request headers HTTP_WEBHOOK_ID; the receiver wants webhook-id.
    return {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    def answer(status: str, payload: dict[str, str]) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]

    if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") != "/reten/webhook":
        return answer("404 Not Found", {"error": "not found"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    try:
        event = verify(body, _headers(environ), SECRETS)
    except SignatureError:
        return answer("401 Unauthorized", {"error": "invalid signature"})
    except PayloadError as exc:
        return answer("400 Bad Request", {"error": str(exc)})
    received.setdefault(event.webhook_id, event)
    return answer("200 OK", {"id": f"job-{event.data.id}"})


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("0.0.0.0", 8080, app).serve_forever()
