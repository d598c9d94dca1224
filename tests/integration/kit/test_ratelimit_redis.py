"""Rate limits counted in a shared storage (real Redis): replicas count a client together,
and a failing storage lets requests through rather than refusing them."""

from __future__ import annotations

import logging
import uuid

import pytest
from starlette.requests import Request

from servicekit import ratelimit
from servicekit.http import ProblemError
from servicekit.ratelimit import RateLimit, check_storage_uri


def _refused(limit: RateLimit, key: str) -> bool:
    try:
        limit.check(key)
    except ProblemError as exc:
        assert exc.code == "too_many_requests" and int(exc.headers["Retry-After"]) >= 1
        return True
    return False


def test_replicas_sharing_redis_count_each_client_together(redis_url: str) -> None:
    name = f"intake-{uuid.uuid4().hex}"  # a fresh window, whatever else uses the server
    one, two = (RateLimit("3/minute", name=name, storage_uri=redis_url) for _ in range(2))
    assert one.shared and two.shared
    assert [_refused(one, "alice"), _refused(two, "alice"), _refused(one, "alice")] == [
        False,
        False,
        False,
    ]
    assert _refused(two, "alice") and _refused(one, "alice")  # 3 in all, whichever replica
    assert not _refused(two, "bob")  # another client has its own window
    alone = RateLimit("3/minute", name=name)  # memory://: this process only
    assert not alone.shared and not _refused(alone, "alice")


async def test_a_request_counts_by_its_client_in_the_shared_storage(redis_url: str) -> None:
    def request() -> Request:  # no identity: the limit counts by the client's address
        return Request({"type": "http", "client": ("10.0.0.9", 1234), "headers": []})

    name = f"intake-{uuid.uuid4().hex}"
    limit = RateLimit("1/minute", name=name, storage_uri=redis_url)
    await limit.check_request(request())
    with pytest.raises(ProblemError):
        await limit.check_request(request())
    other = RateLimit("1/minute", name=name, storage_uri=redis_url)
    assert _refused(other, "ip:10.0.0.9")  # the same key, counted by the other replica


def test_a_failing_storage_lets_requests_through(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = "redis://127.0.0.1:1/0?socket_connect_timeout=1&socket_timeout=1"  # nothing listens
    limit = RateLimit("1/minute", name="intake", storage_uri=down)
    with caplog.at_level(logging.WARNING, logger="servicekit.ratelimit"):
        assert not any(_refused(limit, "alice") for _ in range(5))
        # Past the pause the storage is asked again, and fails again: still one warning.
        monkeypatch.setattr(ratelimit, "RETRY_STORAGE_SECONDS", 0.0)
        limit._down_until = 0.0
        assert not _refused(limit, "alice")
    warnings = [r for r in caplog.records if "while its storage fails" in r.getMessage()]
    assert len(warnings) == 1


def test_storage_uris_are_checked_without_connecting() -> None:
    assert check_storage_uri("memory://") == "memory://"
    assert check_storage_uri("redis://redis.invalid:6379/0")  # no connection is made
    with pytest.raises(ValueError, match="not a rate limit storage"):
        check_storage_uri("postgres://db/limits")
