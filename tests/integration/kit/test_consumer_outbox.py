"""BatchConsumer and OutboxRelay against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import MetaData, func, insert, select

from contracts.envelope import CloudEvent
from contracts.wire import KafkaRecord, decode
from devkit.broker import LocalBroker
from servicekit.backoff import BackoffPolicy
from servicekit.consumer import (
    BatchConsumer,
    ConsumerRecord,
    ConsumerSettings,
    Rejected,
    make_consumer,
)
from servicekit.db import make_engine
from servicekit.kafka import ensure_topics, make_producer, send_batch
from servicekit.outbox import OutboxRelay, outbox_rows, outbox_table
from tests.integration.kit.outbox_events import sample_events

pytestmark = pytest.mark.kafka


def topic_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def read_all(
    bootstrap: str, topic: str, expected: int, within: float = 20.0
) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(within):
            while len(out) < expected:
                batch = await consumer.getmany(timeout_ms=200)
                for recs in batch.values():
                    out.extend(recs)
    finally:
        await consumer.stop()
    return out


async def test_rejects_go_to_dead_letters_and_offsets_commit_after_a_failure(
    broker: LocalBroker,
) -> None:
    source, dlq = topic_name("in"), topic_name("dlq")
    await ensure_topics(broker.bootstrap_servers, [source, dlq], partitions=2)
    producer = make_producer(broker.bootstrap_servers, client_id="test")
    await producer.start()
    try:
        await send_batch(
            producer,
            [
                (source, KafkaRecord(f"k{i}".encode(), f"good-{i}".encode(), [("h", b"v")]))
                for i in range(8)
            ]
            + [(source, KafkaRecord(b"kx", b"bad-1", [("h", b"orig")]))],
        )
        accepted: list[bytes] = []
        calls = 0

        async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("database is down")  # transient: retried, not committed
            accepted.extend(r.value for r in records if r.value.startswith(b"good"))
            return [
                Rejected(r, "invalid_data", "not good")
                for r in records
                if r.value.startswith(b"bad")
            ]

        settings = ConsumerSettings(
            bootstrap_servers=broker.bootstrap_servers,
            group_id=topic_name("group"),
            topics=[source],
            deadletter_topic=dlq,
            service="test",
            backoff=BackoffPolicy(initial=0.05),
        )
        consumer = make_consumer(settings)
        await consumer.start()
        loop = BatchConsumer(
            settings=settings, consumer=consumer, producer=producer, handler=handler
        )
        task = asyncio.create_task(loop.run())
        async with asyncio.timeout(30):
            while loop.processed < 9:
                await asyncio.sleep(0.05)
        loop.stop()
        await task
        await consumer.stop()

        assert calls >= 2
        assert sorted(accepted) == sorted(f"good-{i}".encode() for i in range(8))
        (dead,) = await read_all(broker.bootstrap_servers, dlq, 1)
        headers = dict(dead.headers)
        assert dead.value == b"bad-1" and dead.key == b"kx"
        assert headers["h"] == b"orig"
        assert headers["dlq_reason"] == b"invalid_data"
        assert headers["dlq_topic"] == source.encode()

        # everything was committed: the same group sees nothing more
        again = make_consumer(settings)
        await again.start()
        try:
            leftover = await again.getmany(timeout_ms=1500)
            assert sum(len(v) for v in leftover.values()) == 0
        finally:
            await again.stop()
    finally:
        await producer.stop()


async def test_outbox_relay_publishes_and_deletes(broker: LocalBroker, tmp_path) -> None:
    topic = topic_name("out")
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=1)
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    table = outbox_table(MetaData(), "test_outbox")
    table.metadata.create_all(engine)
    events = sample_events(0, 5)
    with engine.begin() as conn:
        conn.execute(
            insert(table), outbox_rows((topic, e, f"case-{i}") for i, e in enumerate(events))
        )

    producer = make_producer(broker.bootstrap_servers, client_id="relay")
    await producer.start()
    try:
        relay = OutboxRelay(engine=engine, table=table, producer=producer, service="test")
        assert await relay.relay_once() == 5
        assert await relay.relay_once() == 0
    finally:
        await producer.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    records = await read_all(broker.bootstrap_servers, topic, 5)
    decoded = [decode(r.value, r.headers) for r in records]
    assert [e.id for e in decoded] == [e.id for e in events]
    assert [r.key for r in records] == [f"case-{i}".encode() for i in range(5)]
    assert decoded[0].data == {"loc": "a", "message": "0", "type": "t"}


async def test_outbox_rows_stay_while_the_broker_is_down(tmp_path) -> None:
    dead = LocalBroker()  # never started: its port refuses connections
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    table = outbox_table(MetaData(), "test_outbox")
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), outbox_rows([("t", CloudEvent(type="x", source="/s"), "k")]))
    producer = make_producer(dead.bootstrap_servers, client_id="relay")
    with pytest.raises(Exception):  # noqa: B017 - any connection error
        await producer.start()
    await producer.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1


async def test_a_record_too_large_to_dead_letter_is_truncated_and_its_partition_moves_on(
    broker: LocalBroker,
) -> None:
    source, dlq = topic_name("in"), topic_name("dlq")
    await ensure_topics(broker.bootstrap_servers, [source, dlq], partitions=1)
    producer = make_producer(broker.bootstrap_servers, client_id="test")
    await producer.start()
    huge = b"x" * 1_036_000  # fits under the 1 MiB request limit; with dlq_* headers it does not
    try:
        await send_batch(
            producer,
            [
                (source, KafkaRecord(b"k0", huge, [("h", b"y" * 11_000)])),
                (source, KafkaRecord(b"k1", b"good-after", [])),
            ],
        )
        accepted: list[bytes] = []

        async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
            accepted.extend(r.value for r in records if r.value.startswith(b"good"))
            return [Rejected(r, "too_large", "e" * 4000) for r in records if r.value == huge]

        settings = ConsumerSettings(
            bootstrap_servers=broker.bootstrap_servers,
            group_id=topic_name("group"),
            topics=[source],
            deadletter_topic=dlq,
            service="test",
            backoff=BackoffPolicy(initial=0.05),
        )
        consumer = make_consumer(settings)
        await consumer.start()
        loop = BatchConsumer(
            settings=settings, consumer=consumer, producer=producer, handler=handler
        )
        task = asyncio.create_task(loop.run())
        async with asyncio.timeout(30):
            while loop.processed < 2:
                await asyncio.sleep(0.05)
        loop.stop()
        await task
        await consumer.stop()

        assert accepted == [b"good-after"]
        (dead,) = await read_all(broker.bootstrap_servers, dlq, 1)
        headers = dict(dead.headers)
        assert dead.value == huge[: len(dead.value)] and 0 < len(dead.value) < len(huge)
        assert headers["dlq_reason"] == b"too_large"
        assert headers["dlq_truncated"] == str(len(huge)).encode()
        assert headers["dlq_original_headers"] == b"1" and "h" not in headers
    finally:
        await producer.stop()
