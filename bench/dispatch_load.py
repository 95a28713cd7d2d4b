"""The client processes of P6 and P7: `python -m bench.dispatch_load bare|create SPEC.json`.

bare   P6's reference: a bare `httpx.AsyncClient` loop, 32 requests in flight, posting the bodies
       the dispatcher sent (replayed from the receiver's samples, headers included) to the same
       receiver. It runs on the default asyncio loop with the same client settings as the
       dispatcher's sender (`reten.dispatch.delivery.Sender`), so the two differ only by what the
       dispatcher does around each request.
create P7's creator: `POST /api/activities/tasks` at a fixed rate (open loop: each request goes
       out at its scheduled moment whatever the previous ones did), recording the wall-clock
       time each one was sent, keyed by the id of the activity it created.

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import HOST, Connection, ProtocolError

REQUEST_TIMEOUT_S = 10.0
MAX_ERROR_SAMPLES = 5


async def bare(spec: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any]:
    requests = [(s["headers"], base64.b64decode(s["body"])) for s in samples]
    url = f"http://{HOST}:{spec['port']}{spec['path']}"
    total, concurrency = int(spec["requests"]), int(spec["concurrency"])
    latencies_us: list[int] = []
    errors: list[str] = []
    counter = itertools.count()
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
    )
    async with httpx.AsyncClient(
        follow_redirects=False, limits=limits, headers={"user-agent": "Reten-Dispatch/1"}
    ) as client:

        async def loop() -> None:
            while (i := next(counter)) < total:
                headers, body = requests[i % len(requests)]
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        url, content=body, headers=headers, timeout=REQUEST_TIMEOUT_S
                    )
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies_us.append(round((time.perf_counter() - t0) * 1e6))
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {
        "requests": len(latencies_us),
        "seconds": seconds,
        "latencies_us": sorted(latencies_us),
        "errors": len(errors),
        "error_samples": errors[:MAX_ERROR_SAMPLES],
    }


async def create(spec: dict[str, Any]) -> dict[str, Any]:
    rate, count = float(spec["rate"]), int(spec["count"])
    head = (
        f"POST /api/activities/tasks HTTP/1.1\r\nHost: {HOST}:{spec['port']}\r\n"
        f"x-api-key: {spec['api_key']}\r\nContent-Type: application/json\r\n"
    )
    template: str = spec["body_template"]
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(int(spec["connections"])):
        pool.put_nowait(Connection(int(spec["port"])))
    sent_at: dict[str, float] = {}
    request_us: list[int] = []
    lag_us: list[int] = []
    errors: list[str] = []
    start = time.perf_counter() + 0.1

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        body = template.replace("{seq}", f"{os.getpid()}-{i}").encode()
        raw = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        conn = await pool.get()
        try:
            wall, t0 = time.time(), time.perf_counter()
            # Late when every connection was busy: reported, since it would skew the rate.
            lag_us.append(round((t0 - due) * 1e6))
            status, answer = await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
            request_us.append(round((time.perf_counter() - t0) * 1e6))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as exc:
            conn.close()
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        finally:
            pool.put_nowait(conn)
        if status != 201:
            errors.append(f"HTTP {status}: {answer[:200].decode(errors='replace')}")
            return
        sent_at[json.loads(answer)["id"]] = wall

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return {
        "created": sent_at,
        "seconds": time.perf_counter() - began,
        "request_us": sorted(request_us),
        "lag_us": sorted(lag_us),
        "errors": len(errors),
        "error_samples": errors[:MAX_ERROR_SAMPLES],
    }


def main() -> None:
    mode, spec_file = sys.argv[1], sys.argv[2]
    spec = json.loads(Path(spec_file).read_text())
    if mode == "bare":
        # The default loop, as `reten worker` runs on (asyncio.run, no uvloop).
        samples = json.loads(Path(spec["samples_file"]).read_text())
        result = asyncio.run(bare(spec, samples))
    elif mode == "create":
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(create(spec))
        else:
            result = uvloop.run(create(spec))
    else:
        raise SystemExit(f"unknown mode {mode!r}: bare or create")
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
