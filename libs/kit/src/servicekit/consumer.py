"""A batch consumer that commits only after the work is durable.

The loop: fetch a batch (`getmany`), hand every record of it to the service's handler, which
validates, de-duplicates and stores what it accepts in one transaction and returns what it
rejects; publish each rejected record to the dead-letter topic with its reason; then commit
the offsets. A malformed message therefore never blocks its partition, and nothing is
committed before it is either stored or dead-lettered.

When the handler raises (the database is down, say), nothing is committed: the consumer
seeks back to the start of the batch and tries again after an exponential backoff, so a
transient outage delays work without losing it and without a crash loop (the delays follow
`servicekit.backoff`).

A handler that stores a batch in one transaction uses `store_or_reject`: the whole batch at
once, else (after an error that is not transient) item by item, rejecting only the records
whose item cannot be stored, so one bad record is dead-lettered instead of blocking its
partition. A transient error (`servicekit.db.is_transient`) fails the batch, which is retried.

A dead letter is the original record plus `dlq_*` headers, so a record near the broker's size
limit may not fit any more. Retrying that forever would stall its partition: a dead letter
the producer or the broker refuses as too large is sent again with its value cut to
`TRUNCATED_VALUE_BYTES`, without the original headers, and with `dlq_truncated` (the
original value's size) and `dlq_original_headers` (their count); it is counted in
`deadletter_truncated_total`. Any other failure to dead-letter fails the batch (retried).

A rebalance may take partitions away while a batch is being handled. Their offsets are then
neither committed nor sought (aiokafka raises `IllegalStateError` for an unassigned
partition): the new owner starts from the last committed offset and the handler's
de-duplication by event id absorbs the replay. A commit refused because the group moved on
(`CommitFailedError`) is logged and the loop goes on for the same reason.

A commit that does not complete within `COMMIT_TIMEOUT` (aiokafka retries some errors
without end, e.g. `UnknownTopicOrPartition` once a broker lost its topics) ends the loop with
`CommitStalled`; the supervisor (`servicekit.runtime`) then starts the consumer again. The
batch is stored, so the worst outcome is that it is read again and skipped as duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from prometheus_client import Counter

from contracts.wire import KafkaRecord, dead_letter
from servicekit.backoff import DEFAULT_BACKOFF, BackoffPolicy, sleep_until
from servicekit.db import is_transient
from servicekit.kafka import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEAD_LETTERS = Counter(
    "deadletter_total", "Records sent to the dead-letter topic", ["service", "reason"]
)
DEAD_LETTERS_TRUNCATED = Counter(
    "deadletter_truncated_total",
    "Dead letters too large for the broker, sent with their value truncated",
    ["service", "reason"],
)
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
TRUNCATED_VALUE_BYTES = 64 * 1024
COMMIT_TIMEOUT = 30.0  # seconds an offset commit may take before the consumer starts over


class CommitStalled(RuntimeError):
    """An offset commit did not complete in time."""


BATCH_FAILURES = Counter(
    "consumer_batch_failures_total", "Batches whose handling failed and was retried", ["service"]
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the handler refused, with the dead-letter reason code and error text."""

    record: ConsumerRecord
    reason: str
    error: str


BatchHandler = Callable[[Sequence[ConsumerRecord]], Awaitable[list[Rejected]]]


async def store_or_reject(
    write: Callable[[Sequence[T]], Sequence[R]],
    items: Sequence[tuple[ConsumerRecord, T]],
    *,
    reason: str,
) -> tuple[list[R], list[Rejected]]:
    """Store the items of a batch with one blocking `write` call (in a worker thread).

    When that fails with an error that is not transient, each item is written on its own and
    the records whose item fails are rejected with `reason` and the error's text.

    Args:
        write: Stores items in one transaction and returns its results (blocking).
        items: Each record with what was parsed from it.
        reason: The dead-letter reason of a record whose item cannot be stored.

    Returns:
        The results of the writes that succeeded, and the rejected records.

    Raises:
        Exception: A transient error (`servicekit.db.is_transient`), so the batch is retried.
    """
    try:
        return list(await asyncio.to_thread(write, [item for _, item in items])), []
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("storing a batch of %d record(s) failed; storing one by one", len(items))
    results: list[R] = []
    rejected: list[Rejected] = []
    for record, item in items:
        try:
            results.extend(await asyncio.to_thread(write, [item]))
        except Exception as exc:
            if is_transient(exc):
                raise
            rejected.append(Rejected(record, reason, f"{type(exc).__name__}: {exc}"))
    return results, rejected


@dataclass
class ConsumerSettings:
    """How the loop fetches and retries."""

    bootstrap_servers: str
    group_id: str
    topics: Sequence[str]
    deadletter_topic: str
    service: str
    max_records: int = 500
    poll_timeout_ms: int = 200
    backoff: BackoffPolicy = DEFAULT_BACKOFF
    security: KafkaSecurity = PLAINTEXT


def make_consumer(settings: ConsumerSettings) -> AIOKafkaConsumer:
    """An aiokafka consumer with manual commits, reading from the earliest offset."""
    return AIOKafkaConsumer(
        *settings.topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group_id,
        client_id=f"{settings.service}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_records,
        **settings.security.client_kwargs(),
    )


class BatchConsumer:
    """Runs `handler` over batches until `stop()`; see the module docstring."""

    def __init__(
        self,
        *,
        settings: ConsumerSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        handler: BatchHandler,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.handler = handler
        self._stopping = asyncio.Event()
        self.processed = 0
        self.commit_timeout = COMMIT_TIMEOUT

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until stopped."""
        backoff = self.settings.backoff.start()
        while not self._stopping.is_set():
            batch = await self.consumer.getmany(
                timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.max_records
            )
            if not batch:
                continue
            records = [r for recs in batch.values() for r in recs]
            try:
                await self._handle(records)
            except asyncio.CancelledError:
                raise
            except Exception:
                BATCH_FAILURES.labels(self.settings.service).inc()
                delay = backoff.next_delay()
                log.exception("batch of %d records failed; retrying in %.1fs", len(records), delay)
                assigned = self.consumer.assignment()
                for tp, recs in batch.items():
                    if tp in assigned:  # a revoked partition restarts from its commit elsewhere
                        self.consumer.seek(tp, recs[0].offset)
                await sleep_until(self._stopping, delay)
                continue
            backoff.reset()
            await self._commit(batch)
            self.processed += len(records)

    async def _commit(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Commit the batch's offsets for the partitions this member still owns."""
        assigned = self.consumer.assignment()
        offsets = {tp: recs[-1].offset + 1 for tp, recs in batch.items() if tp in assigned}
        if len(offsets) < len(batch):
            log.info("not committing %d revoked partition(s)", len(batch) - len(offsets))
        if not offsets:
            return
        try:
            await asyncio.wait_for(self.consumer.commit(offsets), self.commit_timeout)
        except TimeoutError as exc:
            raise CommitStalled(
                f"committing offsets took over {self.commit_timeout:.0f}s; starting over"
            ) from exc
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under the batch: the work is stored, and whoever owns the
            # partitions now re-reads from the last commit and skips what was stored.
            log.warning("commit refused after a rebalance (%s); moving on", exc)

    async def _handle(self, records: list[ConsumerRecord]) -> None:
        rejected = await self.handler(records)
        if not rejected:
            return
        now = datetime.now(UTC)
        # Sent together (pipelined), each awaited on its own so one too large is handled alone.
        await asyncio.gather(*(self._dead_letter(r, now) for r in rejected))
        for r in rejected:
            DEAD_LETTERS.labels(self.settings.service, r.reason).inc()
            log.warning(
                "dead-lettered %s[%d]@%d: %s: %r",
                r.record.topic,
                r.record.partition,
                r.record.offset,
                r.reason,
                r.error[:500],
            )

    async def _dead_letter(self, r: Rejected, now: datetime) -> None:
        """Publish one dead letter; truncate it when it is too large to be published."""
        letter = dead_letter(
            key=r.record.key,
            value=r.record.value,
            headers=r.record.headers,
            reason=r.reason,
            error=r.error,
            topic=r.record.topic,
            partition=r.record.partition,
            offset=r.record.offset,
            service=self.settings.service,
            at=now,
        )
        size = len(r.record.value or b"")
        try:
            await self._send(letter)
            return
        except TOO_LARGE as exc:
            log.warning(
                "dead letter of %s[%d]@%d is too large (%s); sending its first %d of %d bytes",
                r.record.topic,
                r.record.partition,
                r.record.offset,
                type(exc).__name__,
                TRUNCATED_VALUE_BYTES,
                size,
            )
        original = list(r.record.headers or ())
        truncated = dead_letter(
            key=(r.record.key or b"")[:1024] or None,
            value=(r.record.value or b"")[:TRUNCATED_VALUE_BYTES],
            headers=[],
            reason=r.reason,
            error=r.error[:1000],
            topic=r.record.topic,
            partition=r.record.partition,
            offset=r.record.offset,
            service=self.settings.service,
            at=now,
        )
        extra = [
            ("dlq_truncated", str(size).encode()),
            ("dlq_original_headers", str(len(original)).encode()),
        ]
        await self._send(KafkaRecord(truncated.key, truncated.value, [*truncated.headers, *extra]))
        DEAD_LETTERS_TRUNCATED.labels(self.settings.service, r.reason).inc()

    async def _send(self, record: KafkaRecord) -> None:
        future = await self.producer.send(
            self.settings.deadletter_topic,
            value=record.value,
            key=record.key,
            headers=record.headers,
        )
        await future


__all__ = [
    "BatchConsumer",
    "BatchHandler",
    "CommitStalled",
    "ConsumerRecord",
    "ConsumerSettings",
    "Rejected",
    "TopicPartition",
    "make_consumer",
    "store_or_reject",
]
