"""Behind PgBouncer in transaction mode (docs/operations.md, "Behind PgBouncer"): with
`RETEN_DB_STATEMENT_CACHE_SIZE=0` a `reten serve` process migrates, reads and writes through a
pool of two server connections that every request shares, under concurrent load."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from reten.kit.db import Database
from reten.results.models import ActivityResult
from tests.conftest import BACKEND
from tests.factories import Factory, result_body
from tests.ops.procs import Procs, free_port
from tests.ops.test_crash_safety import _tasks

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
CLIENTS = 12

needs_postgres = pytest.mark.skipif(BACKEND != "postgres", reason="PgBouncer fronts PostgreSQL")


@pytest.fixture
def bouncer(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the suite's database; yields its URL."""
    # On PostgreSQL the suite must run this, not skip it: `.ci/run` installs the package.
    assert os.path.exists(PGBOUNCER), "pgbouncer is not installed (apt-get install pgbouncer)"
    target = make_url(database_url)
    port = free_port()
    # Not under tmp_path: PgBouncer runs as `postgres` and must read its files, and pytest's
    # temporary root is private to the user running the suite.
    home = Path(tempfile.mkdtemp(prefix="reten-pgbouncer-"))
    (home / "users.txt").write_text(f'"{target.username}" ""\n')
    (home / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={target.host} port={target.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {home / 'users.txt'}\n"
        # Two server connections for every client: consecutive statements of one session
        # land on different connections, which is what breaks named prepared statements.
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 200\n"
    )
    for path in (home, *home.iterdir()):
        path.chmod(0o755)
    command = [PGBOUNCER, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", *command]
    log = (tmp_path / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _until_listening(port, process, tmp_path / "pgbouncer.log")
        yield target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, f"pgbouncer exited: {log.read_text()}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert time.monotonic() < deadline, f"pgbouncer is not listening: {log.read_text()}"
        time.sleep(0.05)


class TestBehindPgBouncer:
    @needs_postgres
    async def test_serve_migrates_reads_and_writes_through_transaction_pooling(
        self, bouncer: str, procs: Procs, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        ids = await _tasks(db, world, 120)
        server = procs.start(
            "serve",
            "--no-dispatcher",
            RETEN_DATABASE_URL=bouncer,
            RETEN_DB_STATEMENT_CACHE_SIZE="0",
            # The start-up migration check takes the schema lock through the bouncer too.
            RETEN_MIGRATE_ON_START="true",
        )
        await server.until_ready()
        queue = list(ids)
        created: list[str] = []

        async def client_loop() -> None:
            headers = {"x-api-key": key}
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                while queue:
                    activity_id = queue.pop()
                    listed = await client.get(
                        "/api/integration/activities/tasks",
                        params={"status": "PENDING", "per_page": 5},
                        headers=headers,
                    )
                    assert listed.status_code == 200, (listed.text, server.output())
                    posted = await client.post(
                        "/api/integration/activity-results/tasks",
                        headers=headers,
                        json=result_body(world, activity_id),
                    )
                    assert posted.status_code == 201, (posted.text, server.output())
                    created.append(posted.json()["id"])

        await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))

        assert len(created) == len(ids)
        async with db.sessionmaker() as session:
            stored = (
                await session.execute(
                    select(func.count())
                    .select_from(ActivityResult)
                    .where(ActivityResult.id.in_([uuid.UUID(i) for i in created]))
                )
            ).scalar_one()
        assert stored == len(ids)
        assert "prepared statement" not in server.output()
