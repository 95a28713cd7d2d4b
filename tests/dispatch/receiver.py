"""A real HTTP receiver on loopback for dispatch tests, with scriptable misbehaviour.

It speaks HTTP/1.1 through h11 over a plain asyncio server, so it can do what a framework
would not let a test do: hang past a timeout, reset the connection, or send a huge body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering ("hang" when past the timeout)
    reset: bool = False  # close the socket abruptly instead of answering
    repeat_body: int = 1  # send `body` this many times (huge bodies without building them)


Behaviour = Callable[[Received], Reply]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviour: Behaviour = lambda _: Reply()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()
        self.port = 0

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, behaviour: Behaviour | Reply) -> None:
        self.behaviour = behaviour if callable(behaviour) else (lambda _: behaviour)

    def ids(self) -> list[str]:
        return [r.headers.get("webhook-id", "") for r in self.received]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109  (a deadline, like asyncio.wait_for)
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)

        await asyncio.wait_for(enough(), timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(conn, reader)
                if request is None:
                    return
                await self._respond(conn, writer, request)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> Received | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and head is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return Received(
                    method=head.method.decode(),
                    path=head.target.decode(),
                    headers={k.decode().lower(): v.decode() for k, v in head.headers},
                    body=bytes(body),
                )
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: Received
    ) -> None:
        reply = self.behaviour(request)
        async with self._arrived:
            self.received.append(request)
            self._arrived.notify_all()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.reset:
                transport = writer.transport
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    import socket
                    import struct

                    # SO_LINGER 0: close sends RST, which the client sees as a reset.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
                return
            size = len(reply.body) * reply.repeat_body
            headers = [("content-length", str(size)), *reply.headers.items()]
            writer.write(conn.send(h11.Response(status_code=reply.status, headers=headers)))
            for _ in range(reply.repeat_body):
                writer.write(conn.send(h11.Data(data=reply.body)))
                await writer.drain()
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
        finally:
            self.in_flight -= 1
