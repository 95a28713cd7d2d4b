"""The server under test: one uvicorn process, started and stopped by the harness."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, tenant_id: str) -> dict[str, str]:
    """Production-like settings that still pass development's safety checks.

    RETEN_ENV=production would demand a real secret and other deployment settings; what matters
    for performance is set explicitly: PostgreSQL, no access log, quiet logging, no migrations
    on start (the harness ran them), and a rate limit so high it never rejects load.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(
        RETEN_ENV="development",
        RETEN_DATABASE_URL=database_url,
        RETEN_ACCESS_LOG="false",
        RETEN_LOG_LEVEL="WARNING",
        RETEN_RATE_LIMIT_PER_MINUTE="100000000",
        RETEN_MIGRATE_ON_START="false",
        RETEN_DB_ECHO="false",
        # As in production, the pool is sized to the concurrency it serves (32 clients): a smaller
        # pool would open and close overflow connections on every burst.
        RETEN_DB_POOL_SIZE="40",
        RETEN_DB_MAX_OVERFLOW="10",
        RETEN_BENCH_TENANT_ID=tenant_id,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


class Server:
    """`python -m uvicorn bench.noauth_app:create_app --factory`: one process, no reload."""

    def __init__(
        self,
        database_url: str,
        tenant_id: str,
        log_path: Path,
        port: int | None = None,
        app: tuple[str, ...] = ("bench.noauth_app:create_app", "--factory"),
    ):
        self.port = port or free_port()
        self.log_path = log_path
        self.env = server_env(database_url, tenant_id)
        self.app = app
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "uvicorn", *self.app,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            # What uvicorn[standard] picks anyway; explicit so a missing extra fails loudly.
            "--loop", "uvloop", "--http", "httptools",
        ]  # fmt: skip
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        log.close()  # the child holds its own descriptor
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {START_TIMEOUT_S} s:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the server process, in MB, from /proc/<pid>/status."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024  # reported in kB
        return values["VmRSS"], values["VmHWM"]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # graceful: lets the lifespan close the pool
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_lines()[-n:])
