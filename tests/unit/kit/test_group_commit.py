"""GroupCommitter batches concurrent submissions and isolates a failing item."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from servicekit.db import GroupCommitter


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
