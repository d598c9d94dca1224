"""Composition root of the router: settings -> adapters -> service context -> background loops.

`build(settings)` wires the real adapters (database, catalogue, policy, notifier); tests pass
fakes (`clock`, `sender`) by keyword. `background(container)` is the lifespan of `router
serve`: it starts the delivery worker and the sweeper at once, and the Kafka side (producer,
outbox relay, consumer: `servicekit.runtime`) in a supervisor that retries while the broker is
down, so the API serves even when Kafka does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from contracts.catalogue import load_catalogue
from contracts.events import CaseTriaged
from router.adapters import tables
from router.adapters.db import SqlStore, make_router_engine
from router.adapters.migrate import upgrade
from router.adapters.notifications import CHANNELS, Notifier, SmtpSettings, backoff_delay
from router.config import Settings
from router.domain.policy import PolicyHolder, default_policy, load_policy
from router.entrypoints.consumer import make_handler
from router.ports import Clock, SystemClock
from router.service.common import CatalogueHolder, Publishing
from router.service.routing import RoutingReport, route_triaged, sweep_ack_timeouts
from router.workers import DeliveryWorker, Sender, Sweeper, refresh_gauges
from servicekit.runtime import Consume, KafkaRuntime, Outbox

log = logging.getLogger(__name__)
SERVICE = "router"


@dataclass
class Container:
    """Everything the entrypoints need, built once per process."""

    settings: Settings
    engine: Engine
    store: SqlStore
    clock: Clock
    catalogue: CatalogueHolder
    policy: PolicyHolder
    pub: Publishing
    runtime: KafkaRuntime = field(init=False)
    sender: Sender | None = None
    delivery: DeliveryWorker | None = None
    http: httpx.AsyncClient | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runtime = kafka_runtime(self)

    def wake(self) -> None:
        """New outbox rows or notifications were committed: let the loops look now."""
        self.runtime.wake()
        if self.delivery is not None:
            self.delivery.wake()

    def route(self, items: Sequence[tuple[str, CaseTriaged]]) -> RoutingReport:
        """Route triaged cases with the catalogue and policy in force (blocking)."""
        return route_triaged(
            items,
            store=self.store,
            catalogue=self.catalogue.current,
            policy=self.policy.current,
            clock=self.clock,
            pub=self.pub,
        )

    def sweep(self) -> int:
        """One ack-timeout sweep (blocking)."""
        return sweep_ack_timeouts(
            store=self.store, catalogue=self.catalogue.current, clock=self.clock, pub=self.pub
        )


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    sender: Sender | None = None,
    migrate: bool = True,
) -> Container:
    """Build the container from settings (read from the environment when not given).

    Args:
        settings: The settings; `Settings()` from the environment by default.
        clock: The clock (the system clock by default).
        sender: The notification sender; a `Notifier` is made in `background` by default.
        migrate: Upgrade the database schema first.

    Raises:
        CatalogueError: The catalogue is invalid.
        PolicyError: The policy file is invalid.
    """
    settings = settings or Settings()
    engine = make_router_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    policy_path = settings.policy_path
    policy = load_policy(policy_path) if policy_path else default_policy()
    return Container(
        settings=settings,
        engine=engine,
        store=SqlStore(engine),
        clock=clock or SystemClock(),
        catalogue=CatalogueHolder(
            load_catalogue(
                settings.catalogue_path, service_delivery_group=settings.service_delivery_group
            ),
            settings.catalogue_path,
            service_delivery_group=settings.service_delivery_group,
        ),
        policy=PolicyHolder(policy, policy_path),
        pub=Publishing(
            lifecycle_topic=settings.topic_lifecycle,
            public_base_url=settings.public_base_url,
            channels=CHANNELS,
        ),
        sender=sender,
    )


def make_delivery(c: Container) -> DeliveryWorker:
    """The delivery worker with the container's sender (a real `Notifier` unless faked)."""
    s = c.settings
    if c.sender is None:
        c.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=max(s.delivery_concurrency, 10))
        )
        c.sender = Notifier(
            http=c.http,
            smtp=SmtpSettings(host=s.smtp_host, port=s.smtp_port, sender=s.smtp_sender),
            timeout=s.delivery_timeout_seconds,
        )
    base = s.delivery_backoff_base_seconds
    return DeliveryWorker(
        store=c.store,
        sender=c.sender,
        clock=c.clock,
        max_attempts=s.delivery_max_attempts,
        concurrency=s.delivery_concurrency,
        backoff=lambda attempt: backoff_delay(attempt, base=base),
    )


def kafka_runtime(c: Container) -> KafkaRuntime:
    """Topics, outbox relay and (unless disabled) the consumer of triaged cases."""
    s = c.settings
    consume = Consume(
        topics=[s.topic_triaged],
        group_id=s.kafka_consumer_group,
        deadletter_topic=s.topic_deadletter,
        handler=make_handler(route=c.route, committed=c.wake),
    )
    return KafkaRuntime(
        service=SERVICE,
        bootstrap_servers=s.kafka_bootstrap_servers,
        enable_idempotence=s.kafka_enable_idempotence,
        topics=[s.topic_triaged, s.topic_lifecycle, s.topic_deadletter],
        outbox=Outbox(c.engine, tables.outbox),
        consume=consume if s.consumer_enabled else None,
    )


@contextlib.asynccontextmanager
async def background(c: Container) -> AsyncIterator[Container]:
    """Run the loops while the block runs; stop them cleanly afterwards."""
    c.delivery = make_delivery(c)
    sweeper = Sweeper(
        sweep=c.sweep,
        interval=c.settings.sweep_interval_seconds,
        after=lambda _n: c.wake(),
        refresh=lambda: refresh_gauges(c.store),
    )
    c.tasks = [
        asyncio.create_task(c.delivery.run(), name="delivery"),
        asyncio.create_task(sweeper.run(), name="sweeper"),
    ]
    await c.runtime.start()
    try:
        yield c
    finally:
        sweeper.stop()
        c.delivery.stop()
        await c.runtime.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*c.tasks, return_exceptions=True), 15)
        for task in c.tasks:
            task.cancel()
        await asyncio.gather(*c.tasks, return_exceptions=True)
        c.tasks = []
        if c.http is not None:
            await c.http.aclose()
            c.http = None
            c.sender = None
        c.delivery = None
