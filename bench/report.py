"""Rows of the result table, their budgets, and the table as text and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile of already sorted values (µs in, ms out)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1] / 1000


@dataclass
class Measurement:
    """What the load generator reported for one workload (or several merged segments)."""

    requests: int
    measured_s: float
    latencies_us: list[int]
    errors: int
    error_samples: list[str]
    status_counts: dict[str, int]
    created_ids: list[str]
    pool_exhausted: bool
    warmup_requests: int
    # CPU seconds over the whole drive (warm-up included): server, postgres, loadgen; and wall_s.
    cpu: dict[str, float] = field(default_factory=dict)

    @classmethod
    def merge(cls, parts: list[Measurement]) -> Measurement:
        counts: dict[str, int] = {}
        for p in parts:
            for k, v in p.status_counts.items():
                counts[k] = counts.get(k, 0) + v
        return cls(
            requests=sum(p.requests for p in parts),
            measured_s=sum(p.measured_s for p in parts),
            latencies_us=sorted(v for p in parts for v in p.latencies_us),
            errors=sum(p.errors for p in parts),
            error_samples=[s for p in parts for s in p.error_samples][:5],
            status_counts=counts,
            created_ids=[i for p in parts for i in p.created_ids],
            pool_exhausted=any(p.pool_exhausted for p in parts),
            warmup_requests=sum(p.warmup_requests for p in parts),
            cpu={k: sum(p.cpu.get(k, 0.0) for p in parts) for k in parts[0].cpu},
        )

    @property
    def rps(self) -> float:
        return self.requests / self.measured_s


@dataclass
class Row:
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float
    x_baseline: float
    cpu_cores: str  # server/postgres/loadgen/other: average cores busy while the workload ran
    budget: str = "-"
    verdict: str = "-"  # PASS, FAIL or "-" for reference rows
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, m: Measurement, rss_mb: float, baseline_rps: float | None) -> Row:
        wall = m.cpu.get("wall_s") or 1.0
        sides = ("server_s", "postgres_s", "loadgen_s", "other_s")
        # Per request over everything sent (warm-up included), since the CPU covers it all.
        sent = max(1, m.requests + m.warmup_requests)
        return cls(
            workload=name,
            rps=m.rps,
            p50_ms=percentile(m.latencies_us, 0.50),
            p99_ms=percentile(m.latencies_us, 0.99),
            errors=m.errors,
            rss_mb=rss_mb,
            x_baseline=m.rps / baseline_rps if baseline_rps else 1.0,
            cpu_cores="/".join(f"{m.cpu.get(k, 0.0) / wall:.2f}" for k in sides),
            detail={
                "cpu_ms_per_request": {
                    k.removesuffix("_s"): round(m.cpu.get(k, 0.0) * 1000 / sent, 3) for k in sides
                },
                "requests": m.requests,
                "measured_s": round(m.measured_s, 3),
                "warmup_requests": m.warmup_requests,
                "status_counts": m.status_counts,
                "error_samples": m.error_samples,
            },
        )

    def judge(self, ok: bool, budget: str) -> None:
        self.budget = budget
        self.verdict = "PASS" if ok else "FAIL"


COLUMNS = (
    "workload", "req/s", "p50 ms", "p99 ms", "errors", "RSS MB", "CPU srv/pg/gen/oth", "x base",
    "budget", "result",
)  # fmt: skip


def table(rows: list[Row]) -> str:
    cells = [
        (r.workload, f"{r.rps:.1f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors),
         f"{r.rss_mb:.1f}", r.cpu_cores, f"{r.x_baseline:.3f}", r.budget, r.verdict)
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(len(COLUMNS))]
    # Text columns left-aligned, numbers right-aligned.
    left = {0, 8, 9}

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.ljust(w) if i in left else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(COLUMNS), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    notes = [f"  {r.workload}: {n}" for r in rows for n in r.notes]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**meta, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
