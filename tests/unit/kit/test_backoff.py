"""The one backoff policy of the long-running loops: doubling delays, a cap, a reset, and a
wait that a stop ends at once."""

from __future__ import annotations

import asyncio

from servicekit.backoff import DEFAULT_BACKOFF, BackoffPolicy, sleep_until


def test_delays_double_up_to_the_cap_and_start_over_after_a_reset() -> None:
    backoff = BackoffPolicy(initial=0.5, maximum=3.0).start()
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_many_failures_stay_at_the_cap() -> None:
    backoff = DEFAULT_BACKOFF.start()
    delays = [backoff.next_delay() for _ in range(2000)]
    assert delays[-1] == DEFAULT_BACKOFF.maximum
    assert delays == sorted(delays)


def test_each_loop_gets_its_own_sequence() -> None:
    policy = BackoffPolicy(initial=1.0, maximum=8.0)
    first, second = policy.start(), policy.start()
    first.next_delay()
    first.next_delay()
    assert second.next_delay() == 1.0


async def test_a_stop_ends_the_wait_at_once() -> None:
    stopping = asyncio.Event()
    backoff = BackoffPolicy(initial=600.0, maximum=600.0).start()
    waiting = asyncio.create_task(sleep_until(stopping, backoff.next_delay()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    stopping.set()
    assert await asyncio.wait_for(waiting, timeout=5) is True  # not the 600 s delay


async def test_a_wait_without_a_stop_sleeps_its_delay_and_says_so() -> None:
    assert await sleep_until(asyncio.Event(), 0.01) is False
