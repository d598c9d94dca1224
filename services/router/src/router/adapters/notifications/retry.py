"""Delays between delivery attempts: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads retries of many
failed deliveries so a recovering receiver is not hit by all of them at once.
"""

from __future__ import annotations

import random

_MAX_EXPONENT = 62  # 2**62 * base stays a finite float; the cap applies long before


def backoff_ceiling(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """The largest delay `backoff_delay` may return for `attempt`.

    Args:
        attempt: How many attempts have failed before this wait, minus one (0 for the first
            retry).
        base: Ceiling of the first wait, in seconds.
        cap: Largest ceiling, in seconds.

    Returns:
        `min(cap, base * 2**attempt)`.

    Raises:
        ValueError: `attempt` is negative, or `base`/`cap` is negative.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    return min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))


def backoff_delay(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before the next attempt: uniform in `[0, min(cap, base * 2**attempt)]`.

    Args:
        attempt: 0 for the first retry, 1 for the second, and so on.
        base: Ceiling of the first wait, in seconds.
        cap: Largest ceiling, in seconds.
        rng: Source of randomness (pass a seeded `random.Random` in tests).

    Returns:
        The delay in seconds.
    """
    ceiling = backoff_ceiling(attempt, base=base, cap=cap)
    return (rng or random).uniform(0.0, ceiling)
