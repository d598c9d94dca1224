"""HTTP intake benchmark: `triage serve` (uvicorn, one worker) under load.

The load for `POST /v1/cases` comes from `wrk` when it is installed (a C load generator that
costs the shared cores far less per request), else from an async httpx client, which on two
cores limits what can be measured.

Per database backend (SQLite file; Postgres too when `BENCH_DATABASE_URL` or
`TEST_DATABASE_URL` is set) the bench starts a local broker and a real `triage serve`
process with the demo model, then posts realistic demo cases (rows of `demo/history.csv`,
each with a unique `external_ref`) to `POST /v1/cases` at concurrency 1, 16 and 64, and
times `POST /v1/predict` with batches of 100 and 1,000 cases.

Printed per run: requests/s (or cases/s), p50/p99 latency, the server's CPU time per request
(from /proc, all threads: independent of the load generator sharing the cores), the load
generator's own CPU share, and the ratio to PERFORMANCE.md's reference figures (FastAPI + one
insert per request: SQLite 750 req/s; with group commit 4.4k req/s; Postgres 560 / 3.6k).

Knobs (environment): `BENCH_INTAKE_REQUESTS` (default 3000 per concurrency level).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.common import (
    BENCH_KEY,
    REFERENCE,
    Child,
    bench_topics,
    child,
    database,
    demo_submissions,
    print_top_costs,
    profile_dir,
    profiled,
    quantile,
    run_backends,
    service_env,
    table,
    wait_http,
)
from devkit.broker import LocalBroker, free_port

REQUESTS = int(os.environ.get("BENCH_INTAKE_REQUESTS", "3000"))
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
WRK = shutil.which("wrk")  # when present, it generates the POST /v1/cases load
CONCURRENCY = (1, 16, 64)
WARMUP = 200
PREDICT_BATCHES = ((100, 30), (1000, 6))  # (cases per request, requests)


@dataclass
class Result:
    """One load run."""

    done: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu: float
    client_cpu: float
    percentiles_ms: tuple[float, float] | None = None  # (p50, p99) when measured by wrk

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.done / self.seconds

    @property
    def p50_p99(self) -> tuple[float, float]:
        """Median and 99th percentile latency in ms."""
        if self.percentiles_ms is not None:
            return self.percentiles_ms
        return quantile(self.latencies_ms, 0.5), quantile(self.latencies_ms, 0.99)


WRK_SCRIPT = """
bodies = {}
for line in io.lines(os.getenv("BENCH_WRK_BODIES")) do bodies[#bodies + 1] = line end
i, wrap = 0, 0
request = function()
  i = i + 1
  if i > #bodies then i, wrap = 1, wrap + 1 end
  local body = bodies[i]
  if wrap > 0 then body = string.gsub(body, "BENCH%-", "BENCH" .. wrap .. "-") end
  return wrk.format("POST", wrk.path,
    {["Content-Type"] = "application/json", ["X-API-Key"] = os.getenv("BENCH_KEY")}, body)
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests, bad,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _load_wrk(
    base: str, path: str, bodies: Sequence[bytes], concurrency: int, server: Child, scratch: Path
) -> Result:
    """Post bodies for WRK_SECONDS with wrk (C, far cheaper per request than httpx)."""
    body_file, script = scratch / "wrk-bodies.jsonl", scratch / "wrk-post.lua"
    body_file.write_bytes(b"\n".join(bodies) + b"\n")
    script.write_text(WRK_SCRIPT)
    cpu0 = server.cpu_seconds()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{WRK_SECONDS}s", "-s", str(script), base + path],
        env={**os.environ, "BENCH_WRK_BODIES": str(body_file), "BENCH_KEY": BENCH_KEY},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    server_cpu = server.cpu_seconds() - cpu0
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()
    requests, errors, micros = int(fields[1]), int(fields[2]), int(fields[3])
    return Result(
        requests - errors,
        errors,
        micros / 1e6,
        [],
        server_cpu,
        float("nan"),
        (float(fields[4]), float(fields[5])),
    )


async def _load(
    base: str, path: str, bodies: Sequence[bytes], concurrency: int, server: Child, ok: int
) -> Result:
    """Post every body with `concurrency` workers; time each request."""
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json", "X-API-Key": BENCH_KEY}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                resp = await http.post(path, content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if resp.status_code != ok:
                    errors += 1

        cpu0, client0, t0 = server.cpu_seconds(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        server_cpu, client_cpu = server.cpu_seconds() - cpu0, time.process_time() - client0
    return Result(len(latencies) - errors, errors, seconds, latencies, server_cpu, client_cpu)


def _bodies(cases: Sequence[dict[str, object]]) -> list[bytes]:
    return [orjson.dumps(c) for c in cases]


def _run_backend(kind: str, broker: LocalBroker, model: Path, scratch: Path) -> list[list[object]]:
    tag = uuid.uuid4().hex[:8]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rows: list[list[object]] = []
    profiles = profile_dir()
    with database(kind, scratch, f"intake_{tag}") as url:
        env = {
            **service_env(broker.bootstrap_servers, bench_topics(tag)),
            "DATABASE_URL": url,
            "KAFKA_CONSUMER_GROUP": f"bench-intake-{tag}",
            "MODEL_DIR": str(model),
        }
        cmd = ["-c", "from triage.cli import main; main()", "serve", "--port", str(port)]
        with child(cmd, env=env, log=scratch / f"triage-{kind}.log", cwd=scratch) as server:
            wait_http(server, f"{base}/readyz")
            cases = demo_submissions(WARMUP + REQUESTS * len(CONCURRENCY), tag=tag)
            bodies = _bodies(cases)
            asyncio.run(_load(base, "/v1/cases", bodies[:WARMUP], 16, server, 201))
            offset = WARMUP
            group_ref = REFERENCE[f"http_group_commit_{kind}"]
            plain_ref = REFERENCE[f"http_insert_{kind}"]
            for conc in CONCURRENCY:
                chunk = bodies[offset : offset + REQUESTS]
                offset += REQUESTS
                prof = profiles / f"intake-{kind}-c{conc}.txt" if profiles else None
                with profiled(server.pid, prof):
                    if WRK:
                        many = demo_submissions(40_000, tag=f"{tag}-w{conc}")
                        r = _load_wrk(base, "/v1/cases", _bodies(many), conc, server, scratch)
                    else:
                        r = asyncio.run(_load(base, "/v1/cases", chunk, conc, server, 201))
                print_top_costs(f"{kind} c={conc}", prof)
                rows.append(
                    [
                        kind,
                        "POST /v1/cases",
                        conc,
                        r.done,
                        r.errors,
                        r.rate,
                        *r.p50_p99,
                        r.server_cpu / max(r.done, 1) * 1e6,
                        r.client_cpu / r.seconds,
                        r.rate / plain_ref,
                        r.rate / group_ref,
                    ]
                )
                print(f"  {kind} cases c={conc}: {r.rate:,.0f} req/s", flush=True)
            predict_cases = demo_submissions(1000, tag=tag)
            for size, count in PREDICT_BATCHES:
                body = orjson.dumps({"cases": predict_cases[:size]})
                r = asyncio.run(_load(base, "/v1/predict", [body] * count, 1, server, 200))
                rows.append(
                    [
                        kind,
                        f"POST /v1/predict x{size}",
                        1,
                        r.done,
                        r.errors,
                        r.rate * size,
                        quantile(r.latencies_ms, 0.5),
                        quantile(r.latencies_ms, 0.99),
                        r.server_cpu / max(r.done * size, 1) * 1e6,
                        r.client_cpu / r.seconds,
                        float("nan"),
                        float("nan"),
                    ]
                )
                print(f"  {kind} predict x{size}: {r.rate * size:,.0f} cases/s", flush=True)
    return rows


def run() -> None:
    """Run the intake benchmark and print its table."""
    rows = run_backends("bench-intake-", _run_backend)
    print()
    print(
        table(
            [
                "db",
                "endpoint",
                "conc",
                "ok",
                "err",
                "per s",
                "p50 ms",
                "p99 ms",
                "srv CPU µs/case",
                "client CPU",
                "x 1-insert ref",
                "x group ref",
            ],
            rows,
        )
    )
    print(
        "\nper s: requests/s for /v1/cases, cases/s for /v1/predict. Reference (PERFORMANCE.md,"
        " 1 worker): one insert+commit per request SQLite 750 / Postgres 560 req/s; group commit"
        " SQLite 4.4k / Postgres 3.6k req/s; no database 7.1k req/s. client CPU = cores used by"
        " this load generator, which shares the 2 cores with the server and the broker."
    )
    print(
        "load generator for POST /v1/cases: "
        + (
            f"wrk ({WRK_SECONDS} s per level; client CPU not measured)"
            if WRK
            else "httpx (install wrk, e.g. `apt-get install wrk`, for a cheaper generator)"
        )
    )


if __name__ == "__main__":
    run()
