"""Who used the CPU while a workload ran: the server, its PostgreSQL backends, everyone else.

Two cores are shared by the server, PostgreSQL and the load generator, so a ratio only means
something if we know where the time went. The machine may also be shared with other jobs; the
"other" figure says how much CPU they took during the measurement (a noisy-neighbour warning).

PostgreSQL backends come and go (a pool smaller than the concurrency closes its overflow
connections), and a process's CPU time vanishes with it, so backends are sampled a few times a
second and the last value seen for each is kept.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_S = 0.2


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _system_busy_s() -> float:
    """CPU seconds spent not idle by the whole machine, all cores, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / CLOCK_TICKS


def _backends(database: str) -> dict[int, float]:
    """CPU seconds of every live PostgreSQL backend connected to `database`."""
    found: dict[int, float] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The title is "postgres: 15/main: <user> <database> <host>(<port>) <state>".
            if marker in (entry / "cmdline").read_bytes():
                found[int(entry.name)] = _cpu_s(int(entry.name))
        except (OSError, ValueError):  # the process went away while we looked
            continue
    return found


class CpuMeter:
    """Context manager: CPU seconds of the server and its backends, and of the whole machine."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._started = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.server_s = self.postgres_s = self.system_s = self.wall_s = 0.0

    def _sample(self) -> None:
        for pid, cpu in _backends(self.database).items():
            # A backend first seen after the start was born during the workload: all its time counts.
            self._start.setdefault(pid, 0.0 if self._started else cpu)
            self._last[pid] = cpu

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._t0 = time.monotonic()
        self._server0 = _cpu_s(self.server_pid)
        self._system0 = _system_busy_s()
        self._sample()  # backends alive now: only their time from here on counts
        self._started = True
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall_s = time.monotonic() - self._t0
        self.server_s = _cpu_s(self.server_pid) - self._server0
        self.system_s = _system_busy_s() - self._system0
        self.postgres_s = sum(self._last[p] - self._start[p] for p in self._last)
