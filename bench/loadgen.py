"""The load generator: runs in its own process, `python -m bench.loadgen SPEC.json OUT.json`.

It opens N keep-alive HTTP/1.1 connections to 127.0.0.1 and drives them from N asyncio tasks,
each sending its next request as soon as the previous answer is read (closed loop). A warm-up
phase is discarded, then every request that completes inside the measurement window is counted.
The result is one JSON object, written to OUT.json.

Why a hand-written HTTP/1.1 client rather than httpx: the generator shares two CPU cores with
the server and PostgreSQL. httpx spends roughly as much CPU per request as the server's baseline
endpoint, which would cap the baseline and flatten every ratio towards 1. A raw keep-alive
client on uvloop costs a small fraction of that, so the server stays the bottleneck.

Everything is bounded: each task stops at the deadline, at `max_requests`, or when the P2 pool
of activities runs out; a watchdog cancels whatever is still waiting after a grace period.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # orjson is a Reten dependency, but keep the generator standalone

    def _loads(data: bytes) -> Any:
        return json.loads(data)


HOST = "127.0.0.1"  # loopback only, by construction: the host is not configurable
WATCHDOG_GRACE_S = 15.0
MAX_ERROR_SAMPLES = 5


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; enough of the protocol for Reten's responses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {lines[0]!r}") from None
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            body = await self._read_chunked()
        elif length is not None:
            body = await self.reader.readexactly(length)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # no framing: the body runs to the end of the connection
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers from uvicorn
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


@dataclass
class Stats:
    latencies_us: list[int] = field(default_factory=list)
    warmup_requests: int = 0
    errors: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)
    pool_exhausted: bool = False

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(what[:300])


class Requests:
    """Builds the raw bytes of each request; for P2 each one uses a fresh activity."""

    def __init__(self, spec: dict[str, Any], port: int) -> None:
        self.method: str = spec["method"]
        self.path: str = spec["path"]
        self.expect: int = spec["expect_status"]
        headers = {"Host": f"{HOST}:{port}", **spec.get("headers", {})}
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.fixed: bytes | None = None
        self.pool: list[tuple[str, str]] = []
        self.next_index = 0
        # Creation workloads: a body template whose "{seq}" becomes a value unique to each request
        # (process id + counter), so every request creates new records.
        self.template: str | None = spec.get("body_template")
        if self.template is not None:
            pass
        elif spec.get("pool_file"):
            # P2: one line per READY activity, "activity_id,commerce_external_id".
            text = Path(spec["pool_file"]).read_text()
            self.pool = [tuple(line.split(",", 1)) for line in text.splitlines() if line]  # type: ignore[misc]
            # A fixed moment in the past: results must not claim to come from the future.
            self.occurred_at = (datetime.now(UTC) - timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
        else:
            self.fixed = f"{self.method} {self.path} HTTP/1.1\r\n{self.head}\r\n".encode()

    def next(self) -> bytes | None:
        if self.template is not None:
            self.next_index += 1
            body = self.template.replace("{seq}", f"{os.getpid()}-{self.next_index}").encode()
            return (
                f"{self.method} {self.path} HTTP/1.1\r\n{self.head}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
        if self.fixed is not None:
            return self.fixed
        if self.next_index >= len(self.pool):
            return None
        activity_id, commerce_external_id = self.pool[self.next_index]
        self.next_index += 1
        body = json.dumps(
            {
                "activity_id": activity_id,
                "commerce_external_id": commerce_external_id,
                "occurred_at": self.occurred_at,
                "status": "EFFECTIVE",
                "task_result": {"result": "SALE_COMPLETED"},
            },
            separators=(",", ":"),
        ).encode()
        return (
            f"{self.method} {self.path} HTTP/1.1\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body


async def client(
    port: int, reqs: Requests, stats: Stats, measure_from: float, until: float, budget: list[int]
) -> None:
    conn = Connection(port)
    collect_ids = reqs.pool != []
    try:
        while time.perf_counter() < until and budget[0] > 0:
            raw = reqs.next()
            if raw is None:
                stats.pool_exhausted = True
                return
            budget[0] -= 1
            t0 = time.perf_counter()
            try:
                status, body = await conn.request(raw)
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ProtocolError,
            ) as exc:
                stats.error(f"{type(exc).__name__}: {exc}")
                conn.close()
                continue
            t1 = time.perf_counter()
            key = str(status)
            stats.status_counts[key] = stats.status_counts.get(key, 0) + 1
            if status != reqs.expect:
                stats.error(f"HTTP {status}: {body[:200].decode(errors='replace')}")
            elif collect_ids:
                stats.created_ids.append(_loads(body)["id"])
            if t1 < measure_from:
                stats.warmup_requests += 1
            elif t1 <= until:
                # Counted by completion time, so the window neither gains nor loses requests.
                stats.latencies_us.append(round((t1 - t0) * 1e6))
    finally:
        conn.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    port = int(spec["port"])
    reqs = Requests(spec["request"], port)
    stats = Stats()
    start = time.perf_counter()
    measure_from = start + float(spec["warmup_s"])
    until = measure_from + float(spec["duration_s"])
    budget = [int(spec["max_requests"])]  # shared across tasks: one event loop, no lock needed
    tasks = [
        asyncio.create_task(client(port, reqs, stats, measure_from, until, budget))
        for _ in range(int(spec["clients"]))
    ]
    done, pending = await asyncio.wait(tasks, timeout=until - start + WATCHDOG_GRACE_S)
    for task in pending:  # a request that never got an answer: an error, not a hang
        task.cancel()
        stats.error("timeout: no response within the watchdog grace period")
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            stats.error(f"client crashed: {task.exception()!r}")
    # If the pool ran out the window ended early; divide by the time actually measured.
    measured_s = min(until, time.perf_counter()) - measure_from
    return {
        "requests": len(stats.latencies_us),
        "measured_s": max(measured_s, 1e-9),
        "warmup_requests": stats.warmup_requests,
        "latencies_us": sorted(stats.latencies_us),
        "errors": stats.errors,
        "error_samples": stats.error_samples,
        "status_counts": stats.status_counts,
        "created_ids": stats.created_ids,
        "pool_exhausted": stats.pool_exhausted,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        import uvloop
    except ImportError:  # plain asyncio works, just costs more CPU per request
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    # A file rather than stdout: the event loop may leave stdout non-blocking, and a result larger
    # than the pipe's buffer (the latencies of a fast workload) was then cut short.
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
