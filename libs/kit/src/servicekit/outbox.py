"""Transactional outbox.

A service writes its outgoing events into its own outbox table in the same transaction as
the state change (`outbox_rows(...)` gives the rows to insert); `OutboxRelay` publishes
pending rows to Kafka in batches and deletes them once the broker acknowledged them. A
broker outage therefore delays events but loses none. Delivery is at least once: consumers
de-duplicate by CloudEvents id.

On Postgres several relays may run (one per replica); a transaction-level advisory lock lets
one publish at a time, so events keep their order per case key across replicas (rows are
also claimed with `FOR UPDATE SKIP LOCKED`). SQLite has one writer anyway.

After the broker acknowledged a batch the relay deletes it. On SQLite it deletes the id range
`id <= max(batch)`: the batch is the lowest ids of the table, and SQLite commits writers one at
a time, so no row below the batch's highest id can appear later. On Postgres sequence values
are not committed in order (a transaction holding id 5 may commit after id 6 was read), and
another relay may hold rows of the range locked, so the delete names the claimed ids. The
`outbox_pending` gauge costs a `count(*)`, so it is refreshed at most every `gauge_interval`
seconds (and set to 0 whenever the outbox is found empty).

Every pass costs a transaction, a select, a Kafka round trip and a delete whatever its size,
so a busy service that wakes the relay after each commit may pass `wake_delay`: after a wake
the relay waits that long before its pass, and the commits of that window go out together
(events leave at most `wake_delay` later). The default 0 passes at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
)

from contracts.envelope import CloudEvent
from contracts.wire import KafkaRecord, encode
from servicekit.backoff import DEFAULT_BACKOFF, BackoffPolicy, sleep_until
from servicekit.kafka import send_batch

log = logging.getLogger(__name__)

RELAYED = Counter("outbox_relayed_total", "Events relayed from the outbox to Kafka", ["service"])
PENDING = Gauge("outbox_pending", "Events waiting in the outbox", ["service"])


def outbox_table(metadata: MetaData, name: str) -> Table:
    """Define a service's outbox table in its own metadata."""
    return Table(
        name,
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=True),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def outbox_rows(items: Iterable[tuple[str, CloudEvent, str]]) -> list[dict[str, Any]]:
    """Rows for (topic, event, key) triples, encoded in CloudEvents binary mode."""
    rows = []
    for topic, event, key in items:
        rec = encode(event, key)
        rows.append(
            {
                "topic": topic,
                "key": key,
                "value": rec.value,
                "headers": [[n, v.decode()] for n, v in rec.headers],
                "created_at": datetime.now(UTC),
            }
        )
    return rows


class OutboxRelay:
    """Publishes outbox rows; call `wake()` after a commit for low latency."""

    def __init__(
        self,
        *,
        engine: Engine,
        table: Table,
        producer: AIOKafkaProducer,
        service: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
        gauge_interval: float = 5.0,
        wake_delay: float = 0.0,
        after_failure: Callable[[], Awaitable[None]] | None = None,
        before_publish: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.table = table
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.gauge_interval = gauge_interval
        self.wake_delay = wake_delay
        self.after_failure = after_failure
        self.before_publish = before_publish
        self._failed = False
        self._counted_at = float("-inf")  # monotonic time of the last pending count
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.healthy = True

    def wake(self) -> None:
        """Tell the relay there is something new to publish."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current batch and return from `run`."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped, backing off while the broker is unreachable.

        The wake flag is cleared before each batch, so a `wake()` that arrives while a batch
        is being sent triggers another pass at once instead of waiting for the next poll
        (after `wake_delay`, which gathers the wakes of that window into one pass).
        While the broker is unreachable, wakes do not shorten the backoff. After a failure,
        `after_failure` runs before the next pass (the runtime creates the topics a broker
        that restarted empty has lost). Before a batch is handed to the producer,
        `before_publish` is awaited with its topics; when it raises, the pass fails and
        nothing of the batch was sent (the runtime checks there that the broker is reachable
        and has the topics: see `servicekit.runtime` for what the local broker does with
        records sent to a topic it does not have).
        """
        backoff = self.backoff.start()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if self._failed and self.after_failure is not None:
                    await self.after_failure()
                self._failed = False
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                self._failed = True
                delay = backoff.next_delay()
                log.warning("outbox relay failed (%s); retrying in %.1fs", exc, delay)
                await sleep_until(self._stopping, delay)
                continue
            self.healthy = True
            backoff.reset()
            if sent >= self.batch_size:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                continue
            if self.wake_delay > 0:
                await sleep_until(self._stopping, self.wake_delay)

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; return how many were sent."""
        loop = asyncio.get_running_loop()
        return await asyncio.to_thread(self._relay_blocking, loop)

    async def _publish(self, items: list[tuple[str, KafkaRecord]]) -> None:
        if self.before_publish is not None:
            await self.before_publish({topic for topic, _ in items})
        await send_batch(self.producer, items)

    def _relay_blocking(self, loop: asyncio.AbstractEventLoop) -> int:
        t = self.table
        postgres = self.engine.dialect.name == "postgresql"
        pending: int | None = None
        with self.engine.begin() as conn:
            if (
                postgres
                and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"), {"name": t.name}
                ).scalar_one()
            ):
                return 0  # another replica's relay is publishing; one at a time keeps order
            stmt = select(t).order_by(t.c.id).limit(self.batch_size)
            if postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = conn.execute(stmt).mappings().all()
            if not rows:
                PENDING.labels(self.service).set(0)
                return 0
            items = [
                (
                    r["topic"],
                    KafkaRecord(
                        key=r["key"].encode() if r["key"] is not None else None,
                        value=bytes(r["value"]),
                        headers=[(n, v.encode()) for n, v in r["headers"]],
                    ),
                )
                for r in rows
            ]
            future = asyncio.run_coroutine_threadsafe(self._publish(items), loop)
            future.result(timeout=60)
            if postgres:
                conn.execute(delete(t).where(t.c.id.in_([r["id"] for r in rows])))
            else:
                conn.execute(delete(t).where(t.c.id <= rows[-1]["id"]))
            now = time.monotonic()
            if now - self._counted_at >= self.gauge_interval:
                self._counted_at = now
                pending = conn.execute(select(func.count()).select_from(t)).scalar_one()
        RELAYED.labels(self.service).inc(len(rows))
        if pending is not None:
            PENDING.labels(self.service).set(pending)
        return len(rows)
