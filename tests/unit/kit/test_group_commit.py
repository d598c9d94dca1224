"""GroupCommitter batches concurrent submissions, isolates a failing item and bounds its
queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from servicekit.db import GroupCommitter, Overloaded


async def test_concurrent_submissions_share_one_write() -> None:
    calls: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=64)
    results = await asyncio.gather(*(committer.submit(i) for i in range(20)))
    await committer.close()
    assert results == [i * 10 for i in range(20)]
    assert sum(len(c) for c in calls) == 20
    assert len(calls) < 20  # batched, not one write per item


async def test_one_bad_item_fails_alone() -> None:
    def write(items: Sequence[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad item 3")
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    outcomes = await asyncio.gather(
        *(committer.submit(i) for i in range(6)), return_exceptions=True
    )
    await committer.close()
    assert [o for o in outcomes if isinstance(o, ValueError)] != []
    assert isinstance(outcomes[3], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [0, 1, 2, 4, 5]


async def test_max_batch_is_respected() -> None:
    sizes: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=4)
    await asyncio.gather(*(committer.submit(i) for i in range(17)))
    await committer.close()
    assert max(sizes) <= 4
    assert sum(sizes) == 17


async def test_submit_after_close_starts_a_new_writer() -> None:
    def write(items: Sequence[int]) -> list[int]:
        return [i + 1 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    assert await committer.submit(1) == 2
    await committer.close()
    assert await committer.submit(2) == 3
    await committer.close()


async def test_a_full_queue_refuses_at_once_instead_of_growing() -> None:
    release = threading.Event()

    def write(items: Sequence[int]) -> list[int]:
        release.wait(10)  # the database is slow: the first batch holds the writer
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=1, max_pending=3)
    first = asyncio.create_task(committer.submit(0))
    await asyncio.sleep(0)  # item 0 is queued
    while committer.pending:  # the writer took item 0
        await asyncio.sleep(0)
    waiting = [asyncio.create_task(committer.submit(i)) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    assert committer.pending == 3
    with pytest.raises(Overloaded) as refused:
        await committer.submit(4)
    assert refused.value.code == "overloaded"
    assert refused.value.headers == {"Retry-After": "1"}
    release.set()
    assert await asyncio.gather(first, *waiting) == [0, 1, 2, 3]
    await committer.close()


async def test_an_unavailable_database_fails_the_batch_without_one_by_one_retries() -> None:
    calls: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        raise OperationalError("INSERT", {}, ConnectionRefusedError("refused"))

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=64)
    gate = asyncio.Event()

    async def submit(i: int) -> int:
        await gate.wait()
        return await committer.submit(i)

    tasks = [asyncio.create_task(submit(i)) for i in range(8)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    await committer.close()
    assert all(isinstance(o, OperationalError) for o in outcomes)
    assert calls == [8]  # one batch; no item was written again on its own
