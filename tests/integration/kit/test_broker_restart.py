"""A Kafka runtime across a restart of the local broker, which comes back without its memory.

The local broker accepts records for a topic it does not have, and when the topic is created
afterwards it hands the same offsets out again: later records collide with those records or
are stored inside their offset range, where a consumer never reads them. A relay that handed
its batch to the producer while the broker was down (the producer sends it as soon as the
broker is back, before anyone created the topics) used to lose events that way. Here the
broker restarts while events wait in the outbox, and another client creates the topics as
soon as it is back (as the other service does): every event must reach the consumer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, Table

from contracts.wire import decode
from devkit.broker import LocalBroker
from servicekit.backoff import BackoffPolicy
from servicekit.consumer import ConsumerRecord, Rejected
from servicekit.db import make_engine
from servicekit.kafka import ensure_topics
from servicekit.outbox import outbox_table
from servicekit.runtime import Consume, KafkaRuntime, Outbox
from tests.integration.kit.outbox_events import add_to_outbox

pytestmark = pytest.mark.kafka

FAST = BackoffPolicy(initial=0.2, maximum=1.0)
LIMIT = 120.0  # seconds a step may take before the test gives up (not a timing check)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield made
    made.dispose()


def _add(engine: Engine, table: Table, topic: str, n: int) -> list[str]:
    return add_to_outbox(engine, table, topic, 0, n, keys=5)


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not check():
        assert time.monotonic() < deadline, f"not within {LIMIT:.0f}s: {what}"
        await asyncio.sleep(0.1)


def _start_on(port: int, log: Path) -> LocalBroker:
    """A new broker on `port` (the killed one's may take a moment to be free)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return LocalBroker(port=port, log_file=log).start()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def test_events_published_across_a_broker_restart_all_reach_the_consumer(
    tmp_path: Path, engine: Engine
) -> None:
    log = tmp_path / "broker.log"
    broker = await asyncio.to_thread(LocalBroker(log_file=log).start)
    suffix = uuid.uuid4().hex[:8]
    topic, dlq = f"restart-{suffix}", f"restart-dlq-{suffix}"
    table = outbox_table(MetaData(), f"t_outbox_{suffix}")
    table.metadata.create_all(engine)
    handled: list[str] = []

    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        handled.extend(decode(r.value, r.headers).id for r in records)
        return []

    runtime = KafkaRuntime(
        service="restart-test",
        bootstrap_servers=broker.bootstrap_servers,
        topics=[topic, dlq],
        outbox=Outbox(engine=engine, table=table),
        consume=Consume(
            topics=[topic], group_id=f"g-{suffix}", deadletter_topic=dlq, handler=handler
        ),
        backoff=FAST,
        topic_check_interval=1.0,
    )
    await runtime.start()
    try:
        before = _add(engine, table, topic, 20)
        runtime.wake()
        await _until(lambda: set(before) <= set(handled), "the events before the restart")

        assert broker.process is not None
        broker.process.kill()
        broker.process.wait()
        during = _add(engine, table, topic, 30)  # the relay tries while the broker is down
        runtime.wake()
        await asyncio.sleep(2)
        broker = await asyncio.to_thread(_start_on, broker.port, log)
        # Another client creates the topics as soon as the broker is back.
        await ensure_topics(broker.bootstrap_servers, [topic, dlq])
        after: list[str] = []
        for _ in range(10):  # one by one: batches smaller than those sent while it was down
            after += _add(engine, table, topic, 1)
            runtime.wake()
            await asyncio.sleep(0.3)

        expected = set(during) | set(after)
        await _until(lambda: expected <= set(handled), "the events after the restart")
    finally:
        await runtime.stop()
        await asyncio.to_thread(broker.stop)
