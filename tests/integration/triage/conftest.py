"""Fixtures for the triage integration tests: migrated databases, Kafka helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from triage.migrations import upgrade

DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module"
)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: a SQLite file, or a fresh Postgres database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'triage.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture
def topic_names() -> Iterator[dict[str, str]]:
    """Unique topic names and consumer group for one test."""
    tag = uuid.uuid4().hex[:8]
    yield {
        "topic_received": f"received-{tag}",
        "topic_triaged": f"triaged-{tag}",
        "topic_lifecycle": f"lifecycle-{tag}",
        "topic_deadletter": f"deadletter-{tag}",
        "kafka_consumer_group": f"triage-{tag}",
    }


async def read_topic(bootstrap: str, topic: str, count: int, within: float = 30.0) -> list:
    """Read `count` records from the start of every partition of `topic` (no group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        parts: set[int] | None = None
        while not parts and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        assert parts, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list = []
        while len(out) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                out.extend(recs)
        return out
    finally:
        await consumer.stop()
