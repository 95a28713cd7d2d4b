"""Real `reten` processes for the operations tests: started on a free port against the test
database, waited for until ready, and always killed at the end of the test."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reten.config import Settings

RETEN = [sys.executable, "-m", "reten.cli.main"]
# Generous: on a loaded two-core host a fresh process spends most of this importing.
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, popen: subprocess.Popen[bytes], log: Path, port: int | None) -> None:
        self.popen = popen
        self.log = log
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def until_ready(self, timeout: float = START_TIMEOUT_S) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.popen.poll() is not None:
                    raise AssertionError(
                        f"server exited with {self.popen.returncode}:\n{self.output()}"
                    )
                try:
                    if (await client.get(f"{self.url}/api/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready within {timeout} s:\n{self.output()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"process still running after {timeout} s:\n{self.output()}")
            await asyncio.sleep(0.05)
        return self.popen.returncode


class Procs:
    """The processes of one test, all SIGKILLed at the end whatever happened."""

    def __init__(self, database_url: str, settings: Settings, logs: Path) -> None:
        self.database_url = database_url
        self.secret_key = settings.secret_key
        self.logs = logs
        self.started: list[Proc] = []

    def env(self, **extra: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
        environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        environ.update(
            RETEN_DATABASE_URL=self.database_url,
            # The test app's key, or the processes cannot open the dispatch credentials.
            RETEN_SECRET_KEY=self.secret_key,
            RETEN_DISPATCH_ALLOW_PRIVATE_NETWORKS="true",  # receivers listen on loopback
            RETEN_LOG_LEVEL="WARNING",
            RETEN_ACCESS_LOG="false",
            RETEN_RATE_LIMIT_PER_MINUTE="1000000",
            RETEN_MIGRATE_ON_START="false",  # the test session created the schema
        )
        environ.update(extra)
        return environ

    def start(self, *args: str, port: int | None = None, **env: str) -> Proc:
        """`reten <args>`; a `serve` gets `--port` on a free port unless one is given."""
        command = [*RETEN, *args]
        if args and args[0] == "serve":
            port = port or free_port()
            command += ["--port", str(port)]
        log = self.logs / f"proc-{len(self.started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, env=self.env(**env), stdout=out, stderr=subprocess.STDOUT
            )
        proc = Proc(popen, log, port)
        self.started.append(proc)
        return proc

    def run(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RETEN, *args], env=self.env(**env), capture_output=True, text=True, timeout=timeout
        )

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.popen.poll() is None:
                proc.popen.kill()
            proc.popen.wait(timeout=10)


@pytest.fixture
def procs(app: object, database_url: str, settings: Settings, tmp_path: Path) -> Iterator[Procs]:
    # `app` first: its start-up migrated the session's database, which the processes share.
    started = Procs(database_url, settings, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
