"""Composition root of the router: settings -> adapters -> `router.app.Container`.

`build(settings)` wires the real adapters (database, catalogue, policy) and the Kafka side
(`servicekit.runtime`: topics, outbox relay, the consumer with its handler); tests pass fakes
(`clock`, `sender`) by keyword. Nothing runs until `router.app.background(container)`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from contracts.catalogue import load_catalogue
from router.adapters import tables
from router.adapters.db import SqlStore, make_router_engine
from router.adapters.migrate import upgrade
from router.adapters.notifications import CHANNELS
from router.app import Container
from router.config import Settings
from router.domain.policy import PolicyHolder, default_policy, load_policy
from router.entrypoints.consumer import make_handler
from router.ports import Clock, SystemClock
from router.service.common import CatalogueHolder, NotificationThrottle, Publishing
from router.workers import Sender
from servicekit.runtime import Consume, KafkaRuntime, Outbox

log = logging.getLogger(__name__)
SERVICE = "router"


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
    container = Container(
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
            throttle=NotificationThrottle(
                settings.notify_max_per_case,
                timedelta(minutes=settings.notify_case_window_minutes),
            )
            if settings.notify_max_per_case
            else None,
        ),
        sender=sender,
    )
    container.runtime = kafka_runtime(container)
    return container


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
        security=s.kafka_security,
        topics=[s.topic_triaged, s.topic_lifecycle, s.topic_deadletter],
        outbox=Outbox(c.engine, tables.outbox),
        consume=consume if s.consumer_enabled else None,
    )
