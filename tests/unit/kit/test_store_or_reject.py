"""`store_or_reject`: the whole batch at once, else one by one rejecting only the records
whose item cannot be stored; a transient error fails the batch so the consumer retries it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy.exc import OperationalError

from servicekit.consumer import store_or_reject


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic="in",
        partition=0,
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


class Store:
    """Stores ints in one call; refuses a batch holding a negative one; `transient_at` makes
    a batch holding that int fail as if the database were down."""

    def __init__(self, transient_at: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.transient_at = transient_at

    def write(self, items: Sequence[int]) -> list[str]:
        self.calls.append(list(items))
        if any(i < 0 for i in items):
            raise ValueError(f"refused {min(items)}")
        if self.transient_at is not None and self.transient_at in items:
            raise OperationalError("SELECT 1", {}, ConnectionError("database is down"))
        return [f"stored {i}" for i in items]


async def test_a_good_batch_is_written_in_one_call() -> None:
    store = Store()
    results, rejected = await store_or_reject(
        store.write, [(record(n), n) for n in range(3)], reason="x"
    )
    assert results == ["stored 0", "stored 1", "stored 2"]
    assert rejected == []
    assert store.calls == [[0, 1, 2]]


async def test_a_refused_item_is_rejected_alone_and_the_others_are_stored() -> None:
    store = Store()
    items = [(record(0), 1), (record(1), -5), (record(2), 3)]
    results, rejected = await store_or_reject(store.write, items, reason="intake_failed")
    assert results == ["stored 1", "stored 3"]
    assert [(r.record.offset, r.reason, r.error) for r in rejected] == [
        (1, "intake_failed", "ValueError: refused -5")
    ]
    assert store.calls == [[1, -5, 3], [1], [-5], [3]]


async def test_a_transient_error_fails_the_batch() -> None:
    store = Store(transient_at=2)
    with pytest.raises(OperationalError):
        await store_or_reject(store.write, [(record(0), 1), (record(1), 2)], reason="x")
    assert store.calls == [[1, 2]]


async def test_a_transient_error_while_writing_one_by_one_fails_the_batch() -> None:
    store = Store(transient_at=3)
    items = [(record(0), -1), (record(1), 3)]
    with pytest.raises(OperationalError):
        await store_or_reject(store.write, items, reason="x")
    assert store.calls == [[-1, 3], [-1], [3]]
