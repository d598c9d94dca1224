"""The outbox relay loop: wakes during a batch are not lost; failures back off; wakes within
`wake_delay` make one pass; a batch whose topics the broker lacks is not sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import MetaData, insert

from contracts.envelope import CloudEvent
from contracts.problems import FieldError
from servicekit.backoff import BackoffPolicy
from servicekit.db import make_engine
from servicekit.outbox import OutboxRelay, outbox_rows, outbox_table


class ScriptedRelay(OutboxRelay):
    """A relay whose batches are scripted instead of read from the database."""

    def __init__(self, script: list[object], *, wake_delay: float = 0.0) -> None:
        super().__init__(
            engine=make_engine("sqlite://"),
            table=outbox_table(MetaData(), "t"),
            producer=None,  # type: ignore[arg-type]
            service="test",
            poll_interval=60.0,
            backoff=BackoffPolicy(initial=60.0, maximum=60.0),
            wake_delay=wake_delay,
        )
        self.script = script
        self.calls = 0
        self.done = asyncio.Event()

    async def relay_once(self) -> int:
        step = self.script[self.calls] if self.calls < len(self.script) else "stop"
        self.calls += 1
        if step == "wake":
            self.wake()  # new rows were committed while this batch was being sent
            return 1
        if step == "fail":
            raise ConnectionError("broker down")
        if step == "idle":
            return 0
        self.done.set()
        self.stop()
        return 0


async def test_a_wake_during_a_batch_triggers_another_pass() -> None:
    relay = ScriptedRelay(["wake"])
    task = asyncio.create_task(relay.run())
    # with a 60 s poll interval, only the wake can bring the second pass this soon
    await asyncio.wait_for(relay.done.wait(), timeout=10)
    await task
    assert relay.calls == 2


async def test_a_failure_waits_out_its_backoff_even_when_woken() -> None:
    relay = ScriptedRelay(["fail"])
    task = asyncio.create_task(relay.run())
    while relay.calls < 1:
        await asyncio.sleep(0)
    relay.wake()
    await asyncio.sleep(0.2)
    assert relay.calls == 1  # still backing off, not hammering the broker
    assert relay.healthy is False
    relay.stop()
    await asyncio.wait_for(task, timeout=10)


async def test_wakes_within_the_wake_delay_make_one_pass() -> None:
    # without the delay the second wake would find the relay idle again and bring the
    # scripted "stop" pass, a third call
    relay = ScriptedRelay(["idle", "idle", "stop"], wake_delay=0.5)
    task = asyncio.create_task(relay.run())
    while relay.calls < 1:
        await asyncio.sleep(0)
    for _ in range(3):
        relay.wake()
        await asyncio.sleep(0.02)
    while relay.calls < 2:
        await asyncio.sleep(0.01)
    relay.stop()
    await asyncio.wait_for(task, timeout=10)
    assert relay.calls == 2


async def test_stop_ends_the_wake_delay() -> None:
    relay = ScriptedRelay(["idle"], wake_delay=600.0)
    task = asyncio.create_task(relay.run())
    while relay.calls < 1:
        await asyncio.sleep(0)
    relay.wake()
    await asyncio.sleep(0.05)
    assert relay.calls == 1  # held by the delay
    relay.stop()
    await asyncio.wait_for(task, timeout=10)
    assert relay.calls == 1


async def test_after_a_failure_the_topics_are_checked_before_the_next_pass() -> None:
    order: list[str] = []
    relay = ScriptedRelay(["fail", "idle"])
    relay.backoff = BackoffPolicy(initial=0.01, maximum=0.01)
    relay.poll_interval = 0.01

    async def ensure_topics() -> None:
        order.append(f"topics after call {relay.calls}")

    relay.after_failure = ensure_topics
    await asyncio.wait_for(relay.run(), timeout=10)
    assert order == ["topics after call 1"]  # once, after the failure, before the next pass


class RecordingProducer:
    """Takes every record at once (aiokafka's `send` returns a future of the ack)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, topic: str, **_: object) -> asyncio.Future[None]:
        self.sent.append(topic)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_batch_whose_topics_the_broker_lacks_is_not_handed_to_the_producer(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    table = outbox_table(MetaData(), "t_outbox")
    table.metadata.create_all(engine)
    event = CloudEvent.of(
        type="test.v1", source="/test", subject="1", data=FieldError(loc="a", message="m", type="t")
    )
    with engine.begin() as conn:
        conn.execute(insert(table), outbox_rows([("a", event, "k"), ("b", event, "k")]))
    producer = RecordingProducer()
    broker_topics = {"a"}
    asked: list[set[str]] = []

    async def before_publish(topics: set[str]) -> None:
        asked.append(topics)
        if not topics <= broker_topics:
            raise LookupError(f"the broker lacks {sorted(topics - broker_topics)}")

    relay = OutboxRelay(
        engine=engine,
        table=table,
        producer=producer,  # type: ignore[arg-type]
        service="test",
        before_publish=before_publish,
    )
    with pytest.raises(LookupError):
        await relay.relay_once()
    assert producer.sent == []  # nothing of the batch was sent
    broker_topics.add("b")  # the topic was created
    assert await relay.relay_once() == 2
    assert producer.sent == ["a", "b"]
    assert asked == [{"a", "b"}, {"a", "b"}]
    engine.dispose()
