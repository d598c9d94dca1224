"""OutboxRelay in batches: what the range delete and the throttled pending gauge must keep.

Runs on SQLite and, with `TEST_DATABASE_URL`, on Postgres, against the real local broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import Engine, MetaData, Table, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from contracts.wire import decode
from devkit.broker import LocalBroker
from servicekit.db import make_engine
from servicekit.kafka import ensure_topics, make_producer
from servicekit.outbox import PENDING, OutboxRelay, outbox_table
from tests.integration.kit.outbox_events import add_to_outbox

pytestmark = pytest.mark.kafka


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    else:
        made = create_engine(request.getfixturevalue("postgres_url"), poolclass=NullPool)
    yield made
    made.dispose()


@pytest.fixture
def table(engine: Engine) -> Iterator[Table]:
    made = outbox_table(MetaData(), f"t_outbox_{uuid.uuid4().hex[:8]}")
    made.metadata.create_all(engine)
    yield made
    made.metadata.drop_all(engine)


def _add(engine: Engine, table: Table, topic: str, first: int, n: int) -> list[str]:
    return add_to_outbox(engine, table, topic, first, n, keys=3)


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


async def _read_ids(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    ids: list[str] = []
    try:
        async with asyncio.timeout(20):
            while len(ids) < expected:
                for recs in (await consumer.getmany(timeout_ms=200)).values():
                    ids += [decode(r.value, r.headers).id for r in recs]
    finally:
        await consumer.stop()
    return ids


async def test_batches_are_published_in_order_and_rows_added_between_batches_survive(
    broker: LocalBroker, engine: Engine, table: Table
) -> None:
    topic = f"out-{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=1)
    first = _add(engine, table, topic, 0, 5)
    producer = make_producer(broker.bootstrap_servers, client_id="relay")
    await producer.start()
    try:
        relay = OutboxRelay(
            engine=engine, table=table, producer=producer, service="t-batches", batch_size=2
        )
        assert await relay.relay_once() == 2
        later = _add(engine, table, topic, 5, 3)  # ids above the next batch's range
        assert await relay.relay_once() == 2
        assert _count(engine, table) == 4
        sent = [await relay.relay_once() for _ in range(3)]
        assert sent == [2, 2, 0]
    finally:
        await producer.stop()
    assert _count(engine, table) == 0
    assert await _read_ids(broker.bootstrap_servers, topic, 8) == first + later


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    # A lock wait fails after 2 s: a relay that touched the held row fails the test, not hangs.
    made = create_engine(
        postgres_url, poolclass=NullPool, connect_args={"options": "-c lock_timeout=2000"}
    )
    yield made
    made.dispose()


@pytest.mark.postgres
async def test_postgres_rows_locked_by_another_relay_inside_the_range_are_kept(
    broker: LocalBroker, pg_engine: Engine
) -> None:
    engine = pg_engine
    table = outbox_table(MetaData(), f"t_outbox_{uuid.uuid4().hex[:8]}")
    table.metadata.create_all(engine)
    topic = f"out-{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=1)
    ids = _add(engine, table, topic, 0, 5)
    producer = make_producer(broker.bootstrap_servers, client_id="relay")
    await producer.start()
    try:
        relay = OutboxRelay(engine=engine, table=table, producer=producer, service="t-locked")
        with engine.connect() as other:  # another relay holds the second row
            second = other.execute(select(table.c.id).order_by(table.c.id).offset(1).limit(1))
            held = second.scalar_one()
            other.execute(select(table.c.id).where(table.c.id == held).with_for_update())
            assert await relay.relay_once() == 4
            other.rollback()
        with engine.connect() as conn:
            left = conn.execute(select(table.c.id)).scalars().all()
        assert left == [held]
        assert await relay.relay_once() == 1
    finally:
        await producer.stop()
        table.metadata.drop_all(engine)
    published = await _read_ids(broker.bootstrap_servers, topic, 5)
    assert sorted(published) == sorted(ids)
    assert published[-1] == ids[1]  # the held row went out last, in the second batch


async def test_pending_gauge_is_counted_at_most_every_interval(
    broker: LocalBroker, engine: Engine, table: Table
) -> None:
    topic = f"out-{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=1)
    _add(engine, table, topic, 0, 6)
    service = f"t-gauge-{uuid.uuid4().hex[:6]}"
    gauge = PENDING.labels(service)
    producer = make_producer(broker.bootstrap_servers, client_id="relay")
    await producer.start()
    try:
        relay = OutboxRelay(
            engine=engine,
            table=table,
            producer=producer,
            service=service,
            batch_size=2,
            gauge_interval=3600,
        )
        await relay.relay_once()
        assert gauge._value.get() == 4  # the first batch counts
        await relay.relay_once()
        assert gauge._value.get() == 4  # within the interval: not counted again
        relay.gauge_interval = 0
        await relay.relay_once()
        assert gauge._value.get() == 0
        gauge.set(99)
        assert await relay.relay_once() == 0
        assert gauge._value.get() == 0  # an empty outbox always sets 0
    finally:
        await producer.stop()


@pytest.mark.postgres
async def test_postgres_one_relay_publishes_at_a_time(
    broker: LocalBroker, pg_engine: Engine
) -> None:
    engine = pg_engine
    table = outbox_table(MetaData(), f"t_outbox_{uuid.uuid4().hex[:8]}")
    table.metadata.create_all(engine)
    topic = f"out-{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=1)
    _add(engine, table, topic, 0, 3)
    producer = make_producer(broker.bootstrap_servers, client_id="relay")
    await producer.start()
    try:
        relay = OutboxRelay(engine=engine, table=table, producer=producer, service="t-one")
        with engine.connect() as other:  # another replica's relay is mid-batch
            locked = other.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"), {"name": table.name}
            ).scalar_one()
            assert locked
            assert await relay.relay_once() == 0
            other.rollback()  # its transaction ends, and with it the lock
        assert await relay.relay_once() == 3
    finally:
        await producer.stop()
        table.metadata.drop_all(engine)
