"""Kafka throughput of each stage: triage (received -> triaged) and router (triaged -> lifecycle).

Per database backend (SQLite file; Postgres too when `BENCH_DATABASE_URL` or
`TEST_DATABASE_URL` is set) the bench starts a local broker, pre-loads N
`support.case.received.v1` CloudEvents (demo cases, unique `external_ref`) with a batching
producer, then:

1. starts `triage serve` (a real process, consumer on) and counts `support.case.triaged.v1`
   events until N arrived;
2. stops it, starts a router process on those N triaged events and counts cases with a
   lifecycle event (assigned or escalated) until N arrived. The router runs as
   `python -m bench.pipeline --router-stage`: the real `router.bootstrap.build` +
   `router.app.background` (consumer, outbox relay, delivery worker, sweeper) with a sender that
   delivers nowhere, so the figures include queuing and claiming notifications but no
   webhook or SMTP traffic.

Rates are measured from the first output event to the N-th (this excludes the ~5 s consumer
group join and the model load); the time from process start is printed too. The stage's CPU
time per message comes from /proc (all threads). With `BENCH_PROFILE=DIR` (py-spy installed
by hand into the venv) each stage is sampled and its top costs printed.

Knobs: `BENCH_PIPELINE_EVENTS` (default 20000), `BENCH_PIPELINE_TIMEOUT` (s per stage, 75).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import (
    REFERENCE,
    ROOT,
    Child,
    bench_topics,
    child,
    database,
    demo_submissions,
    print_top_costs,
    profile_dir,
    profiled,
    run_backends,
    service_env,
    table,
    wait_http,
)
from contracts import CaseSubmission, CloudEvent
from contracts.topics import CASE_RECEIVED
from contracts.wire import encode
from devkit.broker import LocalBroker, free_port
from servicekit.kafka import ensure_topics, make_producer, send_batch

EVENTS = int(os.environ.get("BENCH_PIPELINE_EVENTS", "20000"))
TIMEOUT = float(os.environ.get("BENCH_PIPELINE_TIMEOUT", "75"))


@dataclass
class StageRun:
    """What one stage did."""

    got: int
    first_after: float  # seconds from process start to the first output event
    seconds: float  # first output event -> last counted one
    cpu_per_msg_us: float

    @property
    def rate(self) -> float:
        """Messages per second after the first output (excludes group join and start-up)."""
        return (self.got - 1) / self.seconds if self.seconds > 0 else float("nan")


async def preload(bootstrap: str, topics: dict[str, str], n: int, tag: str) -> float:
    """Create the topics, put `n` received events on the input topic; return msg/s."""
    await ensure_topics(bootstrap, list(topics.values()))
    records = []
    for sub in demo_submissions(n, tag=tag):
        submission = CaseSubmission.model_validate(sub)
        event = CloudEvent.of(
            type=CASE_RECEIVED, source="/bench", subject=submission.external_ref, data=submission
        )
        records.append((topics["received"], encode(event, submission.external_ref)))
    producer = make_producer(bootstrap, client_id="bench-preload", linger_ms=20)
    await producer.start()
    try:
        started = time.perf_counter()
        for i in range(0, n, 5000):
            await send_batch(producer, records[i : i + 5000])
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def count_output(
    bootstrap: str, topic: str, n: int, proc: Child, started: float, *, distinct_keys: bool
) -> StageRun:
    """Count records on `topic` (or distinct keys) until `n`, the child dies or time runs out."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        keys: set[bytes | None] = set()
        got = 0
        first = last = 0.0
        cpu_first = cpu_last = 0.0
        deadline = time.monotonic() + TIMEOUT
        while got < n and time.monotonic() < deadline and proc.process.poll() is None:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            records = [r for recs in batch.values() for r in recs]
            if not records:
                continue
            if distinct_keys:
                keys.update(r.key for r in records)
                now_got = len(keys)
            else:
                now_got = got + len(records)
            if got == 0:
                first, cpu_first = time.perf_counter(), proc.cpu_seconds()
            got = now_got
            last, cpu_last = time.perf_counter(), proc.cpu_seconds()
        per_msg = (cpu_last - cpu_first) / max(got - 1, 1) * 1e6
        return StageRun(got, first - started if got else float("nan"), last - first, per_msg)
    finally:
        await consumer.stop()


def _stage(
    name: str,
    args: list[str],
    env: dict[str, str],
    scratch: Path,
    ready_url: str | None,
    output: tuple[str, str],
    distinct_keys: bool,
) -> StageRun:
    profiles = profile_dir()
    prof = profiles / f"pipeline-{name}.txt" if profiles else None
    started = time.perf_counter()
    with child(args, env=env, log=scratch / f"{name}.log", cwd=scratch) as proc:
        if ready_url:
            wait_http(proc, ready_url)
        with profiled(proc.pid, prof):
            run = asyncio.run(
                count_output(*output, EVENTS, proc, started, distinct_keys=distinct_keys)
            )
        if run.got < EVENTS:
            print(f"  {name}: only {run.got} of {EVENTS} in {TIMEOUT:.0f}s:\n{proc.tail()}")
    print_top_costs(name, prof)
    return run


def _run_backend(kind: str, broker: LocalBroker, model: Path, scratch: Path) -> list[list[object]]:
    tag = uuid.uuid4().hex[:8]
    topics = bench_topics(tag)
    bootstrap = broker.bootstrap_servers
    common = service_env(bootstrap, topics)
    produced = asyncio.run(preload(bootstrap, topics, EVENTS, tag))
    print(f"  {kind}: pre-loaded {EVENTS:,} events at {produced:,.0f} msg/s", flush=True)
    rows: list[list[object]] = []
    with database(kind, scratch, f"triage_{tag}") as triage_db:
        port = free_port()
        env = {
            **common,
            "DATABASE_URL": triage_db,
            "KAFKA_CONSUMER_GROUP": f"bench-triage-{tag}",
            "MODEL_DIR": str(model),
        }
        cmd = ["-c", "from triage.cli import main; main()", "serve", "--port", str(port)]
        ready = f"http://127.0.0.1:{port}/healthz"
        run = _stage(
            f"triage-{kind}", cmd, env, scratch, ready, (bootstrap, topics["triaged"]), False
        )
        rows.append(_row(kind, "triage", run))
    with database(kind, scratch, f"router_{tag}") as router_db:
        env = {
            **common,
            "DATABASE_URL": router_db,
            "KAFKA_CONSUMER_GROUP": f"bench-router-{tag}",
            "PYTHONPATH": str(ROOT),
        }
        cmd = ["-m", "bench.pipeline", "--router-stage"]
        out = (bootstrap, topics["lifecycle"])
        run = _stage(f"router-{kind}", cmd, env, scratch, None, out, True)
        rows.append(_row(kind, "router", run))
    return rows


def _row(kind: str, stage: str, run: StageRun) -> list[object]:
    print(f"  {kind} {stage}: {run.rate:,.0f} msg/s", flush=True)
    return [
        kind,
        stage,
        run.got,
        run.first_after,
        run.seconds,
        run.rate,
        run.cpu_per_msg_us,
        run.rate / REFERENCE["passthrough"],
        run.rate / REFERENCE["stage_batch500"],
        run.rate / REFERENCE["stage_estimate"],
    ]


def run() -> None:
    """Run the pipeline benchmark and print its table."""
    rows = run_backends("bench-pipeline-", _run_backend)
    print()
    headers = ["db", "stage", "out", "1st out s", "run s", "msg/s", "CPU µs/msg"]
    headers += ["x passthru 38k", "x ref 3.1k", "x est 10k"]
    print(table(headers, rows))
    print(
        f"\n{EVENTS:,} events per stage. msg/s from the first output event to the last (group"
        " join and start-up excluded; '1st out s' is the time from process start). CPU µs/msg:"
        " the stage process only, all threads. References (PERFORMANCE.md): passthrough 38k"
        " msg/s; one stage at batch 500 with word+char model and ORM inserts 3.1k; estimated"
        " ~10k/core with word-only model and Core inserts."
    )


class _NullSender:
    """A notification sender that delivers nowhere (the bench measures routing)."""

    async def send(self, target: object, notification: object) -> None:
        return None


async def _router_stage() -> None:
    import signal

    from router.app import background
    from router.bootstrap import build
    from servicekit.logs import configure_logging

    container = build(sender=_NullSender())
    configure_logging(container.settings.log_level, container.settings.log_format)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with background(container):
        await stop.wait()
    container.engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:] == ["--router-stage"]:
        asyncio.run(_router_stage())
    else:
        run()
