"""Kafka producer factory, batch send and topic creation (aiokafka)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.wire import KafkaRecord

log = logging.getLogger(__name__)


def make_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    enable_idempotence: bool = False,
    linger_ms: int = 5,
) -> AIOKafkaProducer:
    """A producer with `acks=all`; idempotence is on for real Kafka, off for the local broker
    (Tansu does not support idempotent producers)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=enable_idempotence,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )


async def send_batch(producer: AIOKafkaProducer, items: Iterable[tuple[str, KafkaRecord]]) -> None:
    """Send (topic, record) pairs without awaiting each one, then wait for every ack.

    Raises the first delivery error; the caller decides what to retry.
    """
    futures = [
        await producer.send(topic, value=rec.value, key=rec.key, headers=rec.headers)
        for topic, rec in items
    ]
    if futures:
        await asyncio.gather(*futures)


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], *, partitions: int = 3, replication: int = 1
) -> None:
    """Create the topics that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication)
                        for t in missing
                    ]
                )
            log.info("created topics %s", missing)
    finally:
        await admin.close()
