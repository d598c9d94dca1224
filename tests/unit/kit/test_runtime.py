"""The Kafka runtime's supervisor against scripted clients: it connects with the backoff, notices
a consumer that died, reports it in readiness, starts everything again, and stops cleanly.

The real aiokafka clients are exercised by the integration tests of both services.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from servicekit.backoff import BackoffPolicy
from servicekit.consumer import ConsumerSettings, Rejected
from servicekit.health import readiness
from servicekit.runtime import Consume, KafkaRuntime

FAST = BackoffPolicy(initial=0.01, maximum=0.05)
TP = TopicPartition("in", 0)


class FakeProducer:
    """Its metadata has every topic of the runtime but those `broker.lost`."""

    def __init__(self, broker: FakeClients) -> None:
        self.broker = broker
        self.started = self.stopped = False
        self.client = self

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def fetch_all_metadata(self) -> FakeProducer:
        return self

    def topics(self) -> set[str]:
        return {"in", "dlq"} - set(self.broker.lost)


class FakeConsumer:
    """Joins when `joined` is set; hands out one record, then `dies` (if set) or idles."""

    def __init__(self, *, dies: Exception | None, joined: asyncio.Event) -> None:
        self.dies = dies
        self.joined = joined
        self.given = False
        self.stopped = False
        self.commits: list[dict[TopicPartition, int]] = []

    async def start(self) -> None:
        await self.joined.wait()

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[ConsumerRecord]]:
        await asyncio.sleep(0.005)
        if not self.given:
            self.given = True
            return {TP: [record(len(self.commits))]}
        if self.dies is not None:
            raise self.dies
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


class FakeClients:
    """The broker is down for the first `down` connection attempts; the first `dying`
    consumers die after their first record."""

    def __init__(self, *, down: int = 0, dying: int = 0) -> None:
        self.down = down
        self.dying = dying
        self.attempts = 0
        self.producers: list[FakeProducer] = []
        self.consumers: list[FakeConsumer] = []
        self.joined = asyncio.Event()
        self.joined.set()

    def producer(self) -> FakeProducer:
        self.producers.append(FakeProducer(self))
        return self.producers[-1]

    def consumer(self, settings: ConsumerSettings) -> FakeConsumer:
        dies = KafkaError("fetch failed") if len(self.consumers) < self.dying else None
        self.consumers.append(FakeConsumer(dies=dies, joined=self.joined))
        return self.consumers[-1]

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        self.attempts += 1
        if self.attempts <= self.down:
            raise ConnectionError("broker unreachable")
        self.lost = []

    lost: list[str] = []  # topics the broker lost (ensure_topics creates them again)


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic=TP.topic,
        partition=TP.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=b"v",
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=1,
        headers=(),
    )


def runtime(
    clients: FakeClients, handled: list[int], topic_check_interval: float = 5.0
) -> KafkaRuntime:
    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        handled.extend(r.offset for r in records)
        return []

    return KafkaRuntime(
        service="test",
        bootstrap_servers="fake:9092",
        topics=["in", "dlq"],
        consume=Consume(topics=["in"], group_id="g", deadletter_topic="dlq", handler=handler),
        backoff=FAST,
        clients=clients,  # type: ignore[arg-type]
        topic_check_interval=topic_check_interval,
    )


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def ping() -> None:
    return None


async def test_connects_after_the_broker_comes_up_and_reports_ready() -> None:
    clients = FakeClients(down=3)
    handled: list[int] = []
    rt = runtime(clients, handled)
    await rt.start()
    try:
        await until(lambda: rt.consumer is not None)
        assert clients.attempts == 4
        assert rt.restarts == 3
        assert rt.health() == {"broker": "ok", "consumer": "ok"}
        assert (await readiness(ping, rt)).status == "ok"
        assert [p.stopped for p in clients.producers] == [True, True, True, False]
    finally:
        await rt.stop()


async def test_a_consumer_that_died_is_reported_and_started_again() -> None:
    clients = FakeClients(dying=1)
    handled: list[int] = []
    rt = runtime(clients, handled)
    clients.joined.clear()
    await rt.start()
    try:
        await until(lambda: len(clients.consumers) == 1)
        assert rt.health()["consumer"] == "joining the group"
        assert (await readiness(ping, rt)).status == "unavailable"
        clients.joined.set()
        await until(lambda: len(clients.consumers) == 2 and rt.consumer is not None)
        first, second = clients.consumers
        assert first.stopped and first.commits == [{TP: 1}]  # its batch was committed
        assert rt.restarts == 1
        assert clients.producers[0].stopped and not clients.producers[1].stopped
        await until(lambda: second.given)
        assert handled == [0, 0]
        health = await readiness(ping, rt)
        assert health.status == "ok"
        assert health.checks == {"database": "ok", "broker": "ok", "consumer": "ok"}
    finally:
        await rt.stop()
    assert clients.consumers[-1].stopped and clients.producers[-1].stopped


async def test_readiness_names_the_failure_while_restarting() -> None:
    clients = FakeClients(dying=1)
    clients.joined.clear()
    rt = runtime(clients, [])
    rt.backoff = BackoffPolicy(initial=600.0, maximum=600.0)  # stays in its backoff
    await rt.start()
    try:
        clients.joined.set()
        await until(lambda: rt.restarts == 1)
        health = await readiness(ping, rt)
        assert health.status == "unavailable"
        assert health.checks["broker"].startswith("restarting (RuntimeError: the consumer died")
        assert "KafkaError" in health.checks["broker"]
        assert health.checks["consumer"] == "not running"
    finally:
        await asyncio.wait_for(rt.stop(), timeout=5)  # the stop ends the 600 s backoff


async def test_stop_while_joining_the_group_returns_at_once() -> None:
    clients = FakeClients()
    clients.joined.clear()  # never joins
    rt = runtime(clients, [])
    await rt.start()
    await until(lambda: len(clients.consumers) == 1)
    await asyncio.wait_for(rt.stop(), timeout=5)
    assert clients.consumers[0].stopped and clients.producers[0].stopped
    assert rt.health()["broker"] == "connecting"


class Fatal(BaseException):
    """An error the supervisor's loop does not catch (not an `Exception`)."""


async def test_readiness_notices_a_supervisor_that_ended() -> None:
    clients = FakeClients()
    rt = runtime(clients, [])
    await rt.start()
    try:
        await until(lambda: rt.consumer is not None)
        assert (await readiness(ping, rt)).status == "ok"

        def fatal() -> None:
            raise Fatal("boom")

        clients.producer = fatal  # type: ignore[method-assign]
        assert rt.consumer is not None
        rt.consumer.stop()  # the consumer ends; the restart hits the fatal error
        await until(lambda: rt._supervisor is not None and rt._supervisor.done())
        health = await readiness(ping, rt)
        assert health.status == "unavailable"
        assert health.checks["supervisor"] == "stopped (Fatal)"
    finally:
        await rt.stop()


async def test_topics_lost_by_the_broker_are_created_again() -> None:
    clients = FakeClients()
    handled: list[int] = []
    rt = runtime(clients, handled, topic_check_interval=0.01)
    await rt.start()
    try:
        await until(lambda: rt.consumer is not None and clients.attempts == 1)
        first = rt.consumer
        clients.lost = ["in"]  # the broker restarted empty
        await until(lambda: clients.attempts == 2 and rt.consumer is not None)
        assert rt.consumer is not first
        assert clients.lost == []  # ensure_topics ran again
        assert rt.restarts == 1
    finally:
        await rt.stop()
