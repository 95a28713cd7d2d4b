"""The webhook receiver for P6 and P7: runs in its own process, `python -m bench.receiver`.

It answers every POST with 200 and `{}` at once and notes, per `webhook-id`, how many times it
arrived and when it first did (wall-clock `time.time()`, comparable with the creator process's
clock on the same machine). It is a bare asyncio protocol on uvloop rather than a framework so
that it costs little CPU: it shares two cores with the worker under test and PostgreSQL, and a
slow receiver would cap the very throughput P6 measures.

Control requests (GET, never counted as deliveries):
  GET /stats      {"requests", "distinct", "duplicates", "first_at", "last_at"}
  GET /arrivals   {webhook-id: first arrival time}
  GET /samples    the first SAMPLE_LIMIT deliveries as sent (headers and body), for the bare
                  client loop of P6 to replay
  GET /reset      forget everything

The port it listens on (loopback only) is printed as the first line on stdout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from typing import Any

SAMPLE_LIMIT = 2000
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
# Only what the replaying client needs to look like the dispatcher's requests.
SAMPLED_HEADERS = (b"content-type", b"webhook-id", b"webhook-timestamp", b"webhook-signature")


class State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.first: dict[str, float] = {}
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.samples: list[dict[str, Any]] = []

    def delivery(self, hook_id: str, headers: dict[str, str], body: bytes) -> None:
        now = time.time()
        self.requests += 1
        self.first.setdefault(hook_id, now)
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if len(self.samples) < SAMPLE_LIMIT:
            self.samples.append(
                {"headers": headers, "body": base64.b64encode(body).decode("ascii")}
            )

    def control(self, path: bytes) -> bytes:
        data: Any
        if path == b"/stats":
            data = {
                "requests": self.requests,
                "distinct": len(self.first),
                "duplicates": self.requests - len(self.first),
                "first_at": self.first_at,
                "last_at": self.last_at,
            }
        elif path == b"/arrivals":
            data = self.first
        elif path == b"/samples":
            data = self.samples
        elif path == b"/reset":
            self.reset()
            data = {}
        else:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        body = json.dumps(data).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


class Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive with Content-Length bodies: what httpx sends for a bytes body."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4 : total])
            del self.buffer[:total]
            method, path = lines[0].split(b" ", 2)[:2]
            assert self.transport is not None
            if method == b"GET":
                self.transport.write(self.state.control(path))
                continue
            sampled = (
                {k.decode(): v.decode() for k, v in headers.items() if k in SAMPLED_HEADERS}
                if len(self.state.samples) < SAMPLE_LIMIT
                else {}
            )
            self.state.delivery(headers.get(b"webhook-id", b"").decode(), sampled, body)
            self.transport.write(OK)


async def serve() -> None:
    state = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(state), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    try:
        import uvloop
    except ImportError:  # plain asyncio works, just costs more CPU per request
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
