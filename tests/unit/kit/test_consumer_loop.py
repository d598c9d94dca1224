"""BatchConsumer's loop against a scripted consumer that checks assignments as aiokafka does.

A rebalance can take a partition away while its batch is handled; committing or seeking
an unassigned partition raises in aiokafka, and the loop must neither crash nor lose work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from servicekit.backoff import BackoffPolicy
from servicekit.consumer import BatchConsumer, CommitStalled, ConsumerSettings, Rejected

A, B = TopicPartition("in", 0), TopicPartition("in", 1)


def record(tp: TopicPartition, offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=(),
    )


class ScriptedConsumer:
    """Hands out scripted batches; commit and seek refuse unassigned partitions."""

    def __init__(self, batches: list[dict[TopicPartition, list[ConsumerRecord]]]) -> None:
        self.batches = batches
        self.assigned = {A, B}
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commit_error: Exception | None = None
        self.drained = asyncio.Event()

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[ConsumerRecord]]:
        if not self.batches:
            self.drained.set()
            await asyncio.sleep(0.01)
            return {}
        return self.batches.pop(0)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.assigned:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        self.seeks.append((tp, offset))

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp in offsets:
            if tp not in self.assigned:
                raise IllegalStateError(f"Partition {tp} is not assigned")
        if self.commit_error is not None:
            error, self.commit_error = self.commit_error, None
            raise error
        self.commits.append(dict(offsets))


def settings() -> ConsumerSettings:
    return ConsumerSettings(
        bootstrap_servers="unused:9092",
        group_id="g",
        topics=["in"],
        deadletter_topic="dlq",
        service="test",
        backoff=BackoffPolicy(initial=0.01),
    )


async def run_until_drained(loop: BatchConsumer, consumer: ScriptedConsumer) -> None:
    """Run the loop until the script is used up; a loop that died raises its error here."""
    task = asyncio.create_task(loop.run())
    drained = asyncio.create_task(consumer.drained.wait())
    await asyncio.wait({task, drained}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    drained.cancel()
    loop.stop()
    await asyncio.wait_for(task, timeout=10)


async def test_a_partition_revoked_during_a_batch_is_not_committed_and_the_loop_goes_on() -> None:
    consumer = ScriptedConsumer(
        [{A: [record(A, 0), record(A, 1)], B: [record(B, 5)]}, {A: [record(A, 2)]}]
    )

    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        consumer.assigned.discard(B)  # a rebalance took B away while the batch was stored
        return []

    loop = BatchConsumer(
        settings=settings(),
        consumer=consumer,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        handler=handler,
    )
    await run_until_drained(loop, consumer)
    assert consumer.commits == [{A: 2}, {A: 3}]
    assert loop.processed == 4


async def test_a_commit_refused_by_a_rebalance_does_not_stop_the_loop() -> None:
    consumer = ScriptedConsumer([{A: [record(A, 0)]}, {A: [record(A, 1)]}])
    consumer.commit_error = CommitFailedError("the group has already rebalanced")

    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        return []

    loop = BatchConsumer(
        settings=settings(),
        consumer=consumer,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        handler=handler,
    )
    await run_until_drained(loop, consumer)
    assert consumer.commits == [{A: 2}]


async def test_a_failed_batch_seeks_back_only_the_partitions_still_assigned() -> None:
    consumer = ScriptedConsumer([{A: [record(A, 3)], B: [record(B, 7)]}, {A: [record(A, 3)]}])
    calls = 0

    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        nonlocal calls
        calls += 1
        if calls == 1:
            consumer.assigned.discard(B)
            raise ConnectionError("database is down")
        return []

    loop = BatchConsumer(
        settings=settings(),
        consumer=consumer,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        handler=handler,
    )
    await run_until_drained(loop, consumer)
    assert consumer.seeks == [(A, 3)]
    assert consumer.commits == [{A: 4}]


async def test_a_commit_that_never_completes_ends_the_loop_for_the_supervisor() -> None:
    consumer = ScriptedConsumer([{A: [record(A, 0)]}])

    async def endless(offsets: dict[TopicPartition, int]) -> None:
        await asyncio.Event().wait()  # aiokafka retrying UnknownTopicOrPartition without end

    consumer.commit = endless  # type: ignore[method-assign]

    async def handler(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        return []

    loop = BatchConsumer(
        settings=settings(),
        consumer=consumer,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        handler=handler,
    )
    loop.commit_timeout = 0.05
    with pytest.raises(CommitStalled):
        await asyncio.wait_for(loop.run(), 10)
