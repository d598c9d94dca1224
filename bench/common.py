"""Helpers shared by the service benchmarks (`bench.intake`, `bench.pipeline`).

Everything is local: a Tansu broker on a free loopback port, SQLite files in a temp folder,
and Postgres only when `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` names a server (a fresh
database is created for each run and dropped afterwards). Services run as real child
processes, stopped by their pid. Figures are printed, never asserted.

`PERFORMANCE.md` (in `../shared`) holds the reference figures quoted in `REFERENCE`; they were
measured on a machine like this one, so ratios of the same order mean "as fast as the
machine allows".
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devkit.broker import LocalBroker
from devkit.testing import scratch_database, stop_process

ROOT = Path(__file__).resolve().parents[1]
DEMO_HISTORY = ROOT / "demo" / "history.csv"
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"
STATE_MODEL = ROOT / ".state" / "model"

#: Reference figures from PERFORMANCE.md (same 2-core machine, loopback, medians).
REFERENCE = {
    "http_insert_sqlite": 750.0,  # FastAPI + one ORM insert/commit per request, 1 worker
    "http_group_commit_sqlite": 4400.0,  # same with group commit, 1 worker
    "http_insert_postgres": 560.0,
    "http_group_commit_postgres": 3600.0,
    "http_validation_only": 7100.0,  # FastAPI POST + pydantic, no database
    "passthrough": 38_000.0,  # consume -> parse -> produce, one process
    "stage_batch500": 3100.0,  # one stage, word+char model, ORM inserts, batch 500
    "stage_estimate": 10_000.0,  # word-only + Core inserts, per core (estimate)
}


def demo_submissions(n: int, *, tag: str | None = None) -> list[dict[str, Any]]:
    """`n` case submissions (JSON-ready) cycling over the rows of `demo/history.csv`.

    Each gets a unique `external_ref` (`BENCH-<tag>-<i>`), so the service's de-duplication
    lookup runs as it does for real integrations and no case is a replay.
    """
    tag = tag or uuid.uuid4().hex[:8]
    with DEMO_HISTORY.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for i, row in zip(range(n), itertools.cycle(rows), strict=False):
        out.append(
            {
                "title": row["title"],
                "description": row["description"],
                "reporter": {"name": "Bench Reporter", "email": "bench@example.com"},
                "source": row["source"],
                "priority": row["priority"],
                "external_ref": f"BENCH-{tag}-{i}",
            }
        )
    return out


def model_dir(scratch: Path) -> Path:
    """A folder with a valid demo model: `.state/model` when it loads, else trained anew."""
    from contracts.catalogue import load_catalogue
    from triage.adapters.model import DirModelStore
    from triage.errors import TriageError

    catalogue = load_catalogue(DEMO_CATALOGUE)
    if STATE_MODEL.is_dir():
        with contextlib.suppress(TriageError):
            DirModelStore(STATE_MODEL).load(catalogue)
            return STATE_MODEL
    target = scratch / "model"
    DirModelStore(target, history_path=DEMO_HISTORY).train(catalogue)
    return target


def postgres_base() -> str | None:
    """The Postgres server URL to benchmark against, if any."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")


@contextlib.contextmanager
def database(kind: str, scratch: Path, name: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file under `scratch`, or a new Postgres database."""
    if kind == "sqlite":
        yield f"sqlite:///{scratch / f'{name}.db'}"
        return
    base = postgres_base()
    assert base is not None
    with scratch_database(base, prefix=f"bench_{name}", suffix_len=8) as url:
        yield url


def backends() -> list[str]:
    """`sqlite`, plus `postgres` when a server is configured."""
    return ["sqlite", "postgres"] if postgres_base() else ["sqlite"]


BackendRun = Callable[[str, LocalBroker, Path, Path], list[list[object]]]


def run_backends(prefix: str, run_backend: BackendRun) -> list[list[object]]:
    """Call `run_backend(kind, broker, model, scratch)` for each backend; return all rows.

    The runs share a temp folder (named with `prefix`), the demo model and one local broker.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        scratch = Path(tmp)
        model = model_dir(scratch)
        rows: list[list[object]] = []
        with LocalBroker(log_file=scratch / "broker.log") as broker:
            for kind in backends():
                rows += run_backend(kind, broker, model, scratch)
    return rows


def bench_topics(tag: str) -> dict[str, str]:
    """The topics of one run, named after `tag` so that runs never read each other's events."""
    return {
        "received": f"bench-received-{tag}",
        "triaged": f"bench-triaged-{tag}",
        "lifecycle": f"bench-lifecycle-{tag}",
        "deadletter": f"bench-deadletter-{tag}",
    }


#: The reporter API key of the services a benchmark starts (new for each run).
BENCH_KEY = secrets.token_urlsafe(32)


def service_env(bootstrap: str, topics: dict[str, str]) -> dict[str, str]:
    """Environment every service process of a run shares: broker, topics, demo catalogue,
    and `BENCH_KEY` as the reporter's API key."""
    return {
        "REPORTER_API_KEY": BENCH_KEY,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_RECEIVED": topics["received"],
        "TOPIC_TRIAGED": topics["triaged"],
        "TOPIC_LIFECYCLE": topics["lifecycle"],
        "TOPIC_DEADLETTER": topics["deadletter"],
        "CATALOGUE_PATH": str(DEMO_CATALOGUE),
    }


@dataclass
class Child:
    """A service child process with its log file."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 30) -> str:
        """The last lines of the log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def child(args: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path) -> Iterator[Child]:
    """Run `python args...` with `env` added; SIGTERM it by pid at the end (SIGKILL after 20 s)."""
    handle = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    try:
        yield Child(proc, log)
    finally:
        stop_process(proc)
        handle.close()


def wait_http(proc: Child, url: str, *, within: float = 90.0) -> None:
    """Wait until `url` answers 200; raise with the log tail if the child dies or times out."""
    deadline = time.monotonic() + within
    while True:
        if proc.process.poll() is not None:
            raise RuntimeError(f"child exited ({proc.process.returncode}):\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready in {within}s:\n{proc.tail()}")
        time.sleep(0.2)


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of `values` (inclusive method); nan when empty."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, right-aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    return str(value)


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """Sample `pid` with py-spy (collapsed stacks into `out`) while the block runs.

    A no-op when `out` is None. py-spy is a profiling aid, not a project dependency:
    install it by hand (`uv pip install --python .venv/bin/python py-spy`).
    """
    if out is None:
        yield
        return
    exe = Path(sys.executable).with_name("py-spy")
    spy = subprocess.Popen(
        [
            str(exe),
            "record",
            "-p",
            str(pid),
            "-f",
            "raw",
            "-r",
            "200",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def profile_dir() -> Path | None:
    """Where to write py-spy profiles (`BENCH_PROFILE=DIR`), or None to not profile."""
    value = os.environ.get("BENCH_PROFILE")
    if not value:
        return None
    path = Path(value).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


PROJECT = ("triage/", "router/", "servicekit/", "contracts/")
LIBRARIES = (
    "sqlalchemy",
    "sqlite3",
    "sklearn",
    "scipy",
    "numpy",
    "aiokafka",
    "pydantic",
    "orjson",
    "uvicorn",
    "starlette",
    "fastapi",
    "httpx",
    "asyncio",
    "concurrent",
    "threading",
    "json",
)
IDLE = ("select (selectors", "_worker (concurrent", "wait (threading", "get (queue", "Runner.run")


def print_top_costs(label: str, prof: Path | None) -> None:
    """Print the top costs of the profile `prof` when one was written."""
    if prof is not None and prof.exists():
        print(f"  top costs, {label} ({prof}):")
        print(textwrap.indent(top_costs(prof), "    "), flush=True)


def top_costs(collapsed: Path, *, limit: int = 10) -> str:
    """Where busy samples go, from py-spy raw output: by innermost project function, and by
    the library of the innermost frame. Shares are of busy (non-idle) samples."""
    total = 0
    by_function: dict[str, int] = {}
    by_library: dict[str, int] = {}
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(IDLE):
            continue
        count = int(count_text)
        total += count
        mine = next((f for f in reversed(frames) if any(p in f for p in PROJECT)), "(other)")
        name = _short(mine)
        by_function[name] = by_function.get(name, 0) + count
        leaf = frames[-1]
        lib = next((lb for lb in LIBRARIES if f"{lb}/" in leaf or f"({lb}" in leaf), "other")
        by_library[lib] = by_library.get(lib, 0) + count
    if not total:
        return "(no busy samples)"

    def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda kv: -kv[1])[:limit]

    left = ranked(by_function)
    right = ranked(by_library)
    rows = [
        [
            f"{100 * left[i][1] / total:.1f}%" if i < len(left) else "",
            left[i][0] if i < len(left) else "",
            f"{100 * right[i][1] / total:.1f}%" if i < len(right) else "",
            right[i][0] if i < len(right) else "",
        ]
        for i in range(max(len(left), len(right)))
    ]
    return table(["share", "innermost project function", "share", "leaf library"], rows)


def _short(frame: str) -> str:
    name, _, rest = frame.partition(" (")
    path = rest.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    keep = "/".join(parts[-2:]) if parts else path
    return f"{name} ({keep})"
