"""Per-client request limits at the HTTP edge (the `limits` library, moving windows).

A limit is written as `limits` parses it, several separated by `;`: `20/second;600/minute`.
Each client (its authenticated principal, else its address: `servicekit.clients.client_key`)
has its own windows. A request over a limit is refused with 429 `too_many_requests`, a
problem body and `Retry-After` (whole seconds until the window has room again). An empty
specification turns the limit off.

Windows are kept in the process's memory: with several replicas each counts on its own, so
set the limit per replica (the client's total is at most the replicas times the limit).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from servicekit.clients import client_key
from servicekit.http import ProblemError


def parse_limits(spec: str) -> list[RateLimitItem]:
    """The limits of a specification (`20/second;600/minute`); none when it is empty.

    Raises:
        ValueError: The specification does not parse.
    """
    spec = spec.strip()
    return list(parse_many(spec)) if spec else []


class RateLimit:
    """Limits on one kind of request, per client; see the module docstring."""

    def __init__(self, spec: str, *, name: str) -> None:
        self.name = name
        self.items = parse_limits(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return bool(self.items)

    def check(self, key: str) -> None:
        """Count one request of `key`.

        Raises:
            ProblemError: 429 `too_many_requests` with `Retry-After`, when over a limit.
        """
        for item in self.items:
            if not self._limiter.hit(item, self.name, key):
                reset = self._limiter.get_window_stats(item, self.name, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise ProblemError(
                    "too_many_requests",
                    f"over the limit of {item} for {self.name}; retry in {wait}s",
                    headers={"Retry-After": str(wait)},
                )

    def check_request(self, request: Request) -> None:
        """`check` for the client of `request`."""
        if self.items:
            self.check(client_key(request))


__all__ = ["RateLimit", "parse_limits"]
