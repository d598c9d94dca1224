"""Per-client request limits at the HTTP edge (the `limits` library, moving windows).

A limit is written as `limits` parses it, several separated by `;`: `20/second;600/minute`.
Each client (its authenticated principal, else its address: `servicekit.clients.client_key`)
has its own windows. A request over a limit is refused with 429 `too_many_requests`, a
problem body and `Retry-After` (whole seconds until the window has room again). An empty
specification turns the limit off.

Where the windows are kept is a `limits` storage URI. The default, `memory://`, keeps them in
the process: with several replicas each counts on its own, so set the limit per replica (the
client's total is at most the replicas times the limit). With a storage every replica reaches
(`redis://host:6379/0`, `rediss://...`, `redis+sentinel://...`, `memcached://...`) the
replicas count together and the limit is the client's total. A request is counted in a shared
storage off the event loop (a thread); should the storage fail, the request is let through
and the failure logged (a limit is protection, not a reason to refuse intake).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from servicekit.clients import client_key
from servicekit.http import ProblemError

log = logging.getLogger(__name__)

MEMORY = "memory://"
"""The default storage: this process's memory (each replica counts on its own)."""

RETRY_STORAGE_SECONDS = 5.0
"""After a storage failure, requests pass uncounted this long before the storage is asked again."""


def parse_limits(spec: str) -> list[RateLimitItem]:
    """The limits of a specification (`20/second;600/minute`); none when it is empty.

    Raises:
        ValueError: The specification does not parse.
    """
    spec = spec.strip()
    return list(parse_many(spec)) if spec else []


def check_storage_uri(uri: str) -> str:
    """`uri` when `limits` has a storage for it (and its client library is installed); no
    connection is made.

    Raises:
        ValueError: An unknown scheme, or a storage whose library is missing.
    """
    try:
        storage_from_string(uri)
    except Exception as exc:  # limits raises ConfigurationError, or the driver its own
        raise ValueError(f"not a rate limit storage: {uri!r} ({exc})") from exc
    return uri


class RateLimit:
    """Limits on one kind of request, per client; see the module docstring."""

    def __init__(self, spec: str, *, name: str, storage_uri: str = MEMORY) -> None:
        self.name = name
        self.items = parse_limits(spec)
        self.shared = storage_uri != MEMORY
        storage = (
            storage_from_string(storage_uri, wrap_exceptions=True)
            if self.shared
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._down_until: float | None = None  # monotonic time; set while the storage fails

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return bool(self.items)

    def check(self, key: str) -> None:
        """Count one request of `key`.

        Raises:
            ProblemError: 429 `too_many_requests` with `Retry-After`, when over a limit.
        """
        if self._down_until is not None and time.monotonic() < self._down_until:
            return
        for item in self.items:
            try:
                if self._limiter.hit(item, self.name, key):
                    continue
                reset = self._limiter.get_window_stats(item, self.name, key).reset_time
            except StorageError as exc:
                if self._down_until is None:
                    log.warning(
                        "rate limit %s not counted while its storage fails: %s", self.name, exc
                    )
                self._down_until = time.monotonic() + RETRY_STORAGE_SECONDS
                return
            if self._down_until is not None:
                log.info("rate limit %s storage answers again", self.name)
                self._down_until = None
            wait = max(1, math.ceil(reset - time.time()))
            raise ProblemError(
                "too_many_requests",
                f"over the limit of {item} for {self.name}; retry in {wait}s",
                headers={"Retry-After": str(wait)},
            )

    async def check_request(self, request: Request) -> None:
        """`check` for the client of `request` (in a thread when the storage is shared)."""
        if not self.items:
            return
        if self.shared:
            await asyncio.to_thread(self.check, client_key(request))
        else:
            self.check(client_key(request))


__all__ = ["MEMORY", "RateLimit", "check_storage_uri", "parse_limits"]
