"""The one backoff policy of the long-running loops (consumer, outbox relay, supervisor, ...).

A loop that fails waits `initial` seconds, then twice as long after each further failure up
to `maximum`, and starts over after a success. A loop waits its `next_delay()` with
`sleep_until`, which a `stop()` ends at once.

Why not tenacity or stamina: they retry one call until it succeeds or a stop condition holds,
checked between attempts. These loops are different: they keep running after a success and
reset their delay (`Backoff.reset`), the consumer must poll between failed batches (a member
that stops polling is dropped from its group), and the wait must end the moment the service
stops (an `asyncio.Event`), not after the next attempt. Driving a retry library that way takes
more code than the few lines here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Exponential delays: `initial`, doubled after each failure, capped at `maximum`."""

    initial: float = 0.5
    maximum: float = 30.0

    def start(self) -> Backoff:
        """A fresh delay sequence for one loop."""
        return Backoff(self)


DEFAULT_BACKOFF = BackoffPolicy()


@dataclass(slots=True)
class Backoff:
    """The delays of one loop: each failure waits longer, `reset()` after a success."""

    policy: BackoffPolicy = DEFAULT_BACKOFF
    failures: int = field(default=0)

    def next_delay(self) -> float:
        """The wait after one more failure (and count it)."""
        delay = min(self.policy.maximum, self.policy.initial * 2.0 ** min(self.failures, 62))
        self.failures += 1
        return delay

    def reset(self) -> None:
        """A success: the next failure waits `initial` again."""
        self.failures = 0


async def sleep_until(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, ending early when `stopping` is set; return whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    return stopping.is_set()
