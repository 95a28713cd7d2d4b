"""A fault-injecting HTTP proxy on loopback, in front of a real `reten serve`.

It runs its own event loop in a thread, so sync and async clients alike can go through it.
Faults are planned per request (matched on method and path prefix) and consumed in order:
  - `Fault(reset_after_forward=True)`: forward the request, let the server answer (and
    commit), then reset the client's connection instead of relaying the answer;
  - `Fault(status=503)` / `Fault(status=429, headers={"Retry-After": "1"})`: answer directly,
    the server never sees the request;
  - `Fault(delay=2.0)`: wait before forwarding (to trip the client's timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import h11
import httpx


@dataclass
class Fault:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reset_after_forward: bool = False
    delay: float = 0.0


@dataclass
class Seen:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    fault: Fault | None
    upstream_status: int | None = None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[Seen] = []
        self._plans: list[tuple[str, str, list[Fault]]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._http: httpx.AsyncClient | None = None
        self.port = 0

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            if self._http is not None:
                await self._http.aclose()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, method: str, path: str, *faults: Fault) -> None:
        with self._lock:
            self._plans.append((method, path, list(faults)))

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path)]

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for m, prefix, faults in self._plans:
                if m == method and path.startswith(prefix) and faults:
                    return faults.pop(0)
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read(conn, reader)
                if request is None:
                    return
                keep = await self._answer(conn, writer, request)
                if not keep or conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data and head is None:
                    return None
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: tuple[h11.Request, bytes]
    ) -> bool:
        head, body = request
        method, target = head.method.decode(), head.target.decode()
        headers = {k.decode().lower(): v.decode() for k, v in head.headers}
        fault = self._fault_for(method, target)
        seen = Seen(time.monotonic(), method, target, headers, body, fault)
        self.seen.append(seen)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            payload = (
                b'{"statusCode":%d,"error":"Injected","message":"injected by the test proxy"}'
                % fault.status
            )
            self._send(
                conn,
                writer,
                fault.status,
                {"content-type": "application/json", **fault.headers},
                payload,
            )
            await writer.drain()
            return True
        assert self._http is not None
        forwarded = {
            k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")
        }
        upstream = await self._http.request(method, target, headers=forwarded, content=body)
        seen.upstream_status = upstream.status_code
        if fault is not None and fault.reset_after_forward:
            sock = writer.transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: closing sends RST, which the client sees as a connection reset.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        relayed = {
            k: v
            for k, v in upstream.headers.items()
            if k not in ("content-length", "transfer-encoding", "connection", "content-encoding")
        }
        self._send(conn, writer, upstream.status_code, relayed, upstream.content)
        await writer.drain()
        return True

    @staticmethod
    def _send(
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        pairs = [("content-length", str(len(body))), *headers.items()]
        writer.write(conn.send(h11.Response(status_code=status, headers=pairs)))
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
