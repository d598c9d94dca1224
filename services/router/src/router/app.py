"""The running router as its entrypoints see it: `Container`, built by `router.bootstrap`.

`route`, `sweep` and `wake` are what the consumer, the sweeper and the HTTP desk call;
`runtime` is the Kafka side (`servicekit.runtime`). `background(container)` is the lifespan
of `router serve`: it starts the delivery worker and the sweeper at once, and the Kafka side
(producer, outbox relay, consumer) in its supervisor that retries while the broker is down, so
the API serves even when Kafka does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from contracts.events import CaseTriaged
from router.adapters.db import SqlStore
from router.adapters.notifications import Notifier, SmtpSettings, backoff_delay
from router.config import Settings
from router.domain.policy import PolicyHolder
from router.ports import Clock
from router.service.common import CatalogueHolder, Publishing
from router.service.routing import RoutingReport, route_triaged, sweep_ack_timeouts
from router.workers import DeliveryWorker, Sender, Sweeper, refresh_gauges
from servicekit.runtime import KafkaRuntime


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


def smtp_settings(s: Settings) -> SmtpSettings:
    """How the email channel reaches the relay (STARTTLS or TLS, AUTH) from the settings."""
    return SmtpSettings(
        host=s.smtp_host,
        port=s.smtp_port,
        sender=s.smtp_sender,
        username=s.smtp_username,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        starttls=s.smtp_starttls,
        use_tls=s.smtp_use_tls,
        cafile=str(s.smtp_cafile) if s.smtp_cafile else None,
    )


def make_delivery(c: Container) -> DeliveryWorker:
    """The delivery worker with the container's sender (a real `Notifier` unless faked)."""
    s = c.settings
    if c.sender is None:
        c.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=max(s.delivery_concurrency, 10))
        )
        c.sender = Notifier(http=c.http, smtp=smtp_settings(s), timeout=s.delivery_timeout_seconds)
    base = s.delivery_backoff_base_seconds
    return DeliveryWorker(
        store=c.store,
        sender=c.sender,
        clock=c.clock,
        max_attempts=s.delivery_max_attempts,
        concurrency=s.delivery_concurrency,
        per_receiver=s.delivery_per_receiver or None,
        backoff=lambda attempt: backoff_delay(attempt, base=base),
        max_retry_after=s.delivery_max_retry_after_seconds,
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
