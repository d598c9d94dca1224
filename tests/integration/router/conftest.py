"""A running router (uvicorn in a thread, lifespan on) against the test broker, a SQLite file
and the dev notification sink; helpers to produce and read Kafka records."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devkit.broker import LocalBroker, free_port
from devkit.sink import SinkHandle, start_sink
from devkit.testing import auth_headers
from router.app import Container
from router.bootstrap import build
from router.config import Settings
from router.entrypoints.http import create_app

SECRET = "integration-secret"

GROUP = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: {name}
  annotations:
    support-triage/webhook-url: {url}
    support-triage/webhook-secret-env: SUPPORT_TRIAGE_SECRET_DEMO
{extra}spec: {{type: {type}}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: {name}-api}}
spec: {{owner: group:default/{name}}}
---
"""

SQUADS = {
    "payments": "/hooks/payments",
    "checkout": "/hooks/checkout-broken",
    "search": "/hooks/search-hanging",
    "logistics": "/hooks/logistics",
    "service-delivery": "/hooks/service-delivery",
}


QUIET = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: quiet}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: quiet-api}
spec: {owner: group:default/quiet}
---
"""
"""A squad the catalogue gives no channel at all (cases for it reach nobody)."""


def write_catalogue(folder: Path, sink_url: str) -> None:
    """One group per squad, each with a webhook on the sink (payments also by email), and
    one squad with no channel (`quiet`)."""
    docs = [QUIET]
    for name, path in SQUADS.items():
        extra = "    support-triage/email: payments@example.com\n" if name == "payments" else ""
        kind = "service-delivery" if name == "service-delivery" else "team"
        docs.append(GROUP.format(name=name, url=sink_url + path, extra=extra, type=kind))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.yaml").write_text("".join(docs))


@contextlib.contextmanager
def running_router(
    broker: LocalBroker, tmp: Path, policy_path: Path | None = None
) -> Iterator[RunningRouter]:
    """Sink + router serving on a free port with every background loop running."""
    previous = os.environ.get("SUPPORT_TRIAGE_SECRET_DEMO")
    os.environ["SUPPORT_TRIAGE_SECRET_DEMO"] = SECRET
    sink = start_sink(
        0,
        0,
        webhook_secret=SECRET,
        fail_paths={"/hooks/checkout-broken": 500},
        hang_paths=["/hooks/search-hanging"],
    )
    write_catalogue(tmp / "catalogue", sink.http_url)
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'router.db'}",
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_consumer_group=f"router-{suffix}",
        topic_triaged=f"triaged-{suffix}",
        topic_lifecycle=f"lifecycle-{suffix}",
        topic_deadletter=f"deadletter-{suffix}",
        catalogue_path=tmp / "catalogue",
        policy_path=policy_path,
        smtp_port=sink.smtp_port,
        delivery_max_attempts=2,
        delivery_backoff_base_seconds=0.05,
        delivery_timeout_seconds=2.0,
        sweep_interval_seconds=0.5,
    )
    container = build(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="router-under-test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:  # ready = the Kafka side runs
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("router did not become ready")
            time.sleep(0.1)
        yield RunningRouter(container, url, sink, settings, broker.bootstrap_servers)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sink.stop()
        container.engine.dispose()
        if previous is None:
            os.environ.pop("SUPPORT_TRIAGE_SECRET_DEMO", None)
        else:
            os.environ["SUPPORT_TRIAGE_SECRET_DEMO"] = previous


@pytest.fixture(scope="module")
def router_app(
    broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRouter]:
    """A running router on the default policy (`running_router`)."""
    with running_router(broker, tmp_path_factory.mktemp("router")) as app:
        yield app


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list]]
) -> None:
    """Send (key, value, headers) records and wait for the acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float = 40.0
) -> list[Any]:
    """Read a topic from the beginning until `done(records)` holds (or time runs out)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while not parts:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    return records
                await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(topic, p) for p in parts])
        await consumer.seek_to_beginning()
        while time.monotonic() < deadline and not done(records):
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


def wait_for(check: Callable[[], Any], timeout: float = 40.0, interval: float = 0.1) -> Any:
    """Poll `check()` until it returns something truthy; return it (fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class RunningRouter:
    """The router under test."""

    container: Container
    url: str
    sink: SinkHandle
    settings: Settings
    bootstrap: str

    produce = staticmethod(produce)
    read_until = staticmethod(read_until)
    wait_for = staticmethod(wait_for)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET against the router."""
        return httpx.get(self.url + path, params=params, headers=auth_headers(), timeout=10)
