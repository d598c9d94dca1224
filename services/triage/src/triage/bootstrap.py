"""The composition root: settings -> adapters -> `triage.app.Container`; tests inject fakes here.

`build_container(settings, ...)` wires the repository, the model store and the model in use,
and the Kafka side (`servicekit.runtime`: topics, outbox relay, consumer) with the consumer's
handler. Nothing runs until the HTTP lifespan calls `Container.start()`.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from servicekit.audit import AuditLog
from servicekit.db import make_engine
from servicekit.runtime import Consume, KafkaRuntime, Outbox
from triage import service, training
from triage.adapters.db import AUDIT, OUTBOX, SqlCaseRepository
from triage.adapters.model import DirModelStore
from triage.adapters.registry import SqlModelRegistry, create_registry_tables
from triage.app import Container
from triage.config import Settings
from triage.entrypoints.consumer import make_handler
from triage.keeper import LoopOptions, ModelKeeper
from triage.ports import CaseRepository, ModelRegistry, ModelState, ModelStore
from triage.service import TriageOptions

log = logging.getLogger(__name__)
SERVICE = "triage"


def build_container(
    settings: Settings,
    *,
    store: ModelStore | None = None,
    repo: CaseRepository | None = None,
    engine: Engine | None = None,
    registry: ModelRegistry | None = None,
    kafka: bool = True,
) -> Container:
    """Wire the service from `settings`; pass fakes to replace the real adapters.

    Args:
        settings: The settings.
        store: The model store; `DirModelStore` on `MODEL_DIR` by default.
        repo: The case repository; `SqlCaseRepository` on `DATABASE_URL` by default.
        engine: The engine of the default repository (made from `DATABASE_URL` if absent).
        registry: The model registry; `SqlModelRegistry` on the repository's engine by
            default (with a repository of your own: on `DATABASE_URL`, its tables created).
        kafka: Run the Kafka side (off in tests of the HTTP API).

    Raises:
        CatalogueInvalid: The catalogue is invalid.
        ModelRefused: The saved model cannot be used.
    """
    if repo is None:
        engine = engine or make_engine(settings.database_url)
        repo = SqlCaseRepository(engine)
    if registry is None and engine is not None:
        registry = SqlModelRegistry(engine)
    elif registry is None:  # a repository of your own (tests): the registry on DATABASE_URL
        registry = SqlModelRegistry(make_engine(settings.database_url))
        create_registry_tables(registry.engine)
    if store is None:
        store = DirModelStore(
            settings.model_dir,
            history_path=settings.history_path,
            target_precision=settings.target_precision,
            min_examples=settings.retrain_min_examples,
        )
    training.install_champion(registry=registry, store=store)
    state = service.start_state(
        store=store,
        catalogue_path=settings.catalogue_path,
        service_delivery_group=settings.service_delivery_group,
    )
    served = training.adopt_champion(
        registry=registry, store=store, catalogue=state.catalogue, loaded=state.classifier
    )
    if served is not state.classifier:
        state = ModelState(served, state.catalogue)
    log.info(
        "model %s in use (the registry's champion); catalogue %s (%d squads)",
        state.classifier.version,
        settings.catalogue_path,
        len(state.catalogue.squads),
    )
    container = Container(
        settings=settings,
        repo=repo,
        models=ModelKeeper(
            state=state,
            store=store,
            repo=repo,
            registry=registry,
            options=LoopOptions(
                retrain=settings.retrain_options(),
                poll_seconds=settings.model_poll_seconds,
                lease_seconds=settings.retrain_lease_seconds,
            ),
        ),
        options=TriageOptions(
            threshold=settings.assign_threshold,
            margin=settings.span_margin,
            triaged_topic=settings.topics.triaged,
        ),
        engine=engine,
        audit=AuditLog(registry.engine, AUDIT) if isinstance(registry, SqlModelRegistry) else None,
    )
    if kafka:
        container.runtime = kafka_runtime(settings, container, engine)
    return container


def kafka_runtime(settings: Settings, c: Container, engine: Engine | None) -> KafkaRuntime:
    """Topics, relay (when the cases are in a database) and consumer (unless disabled)."""
    topics = settings.topics
    handler = make_handler(
        topics=topics,
        take_in=c.write_batch,
        record_corrections=c.record_corrections,
        committed=c.wake,
    )
    consume = Consume(
        topics=[topics.received, topics.lifecycle],
        group_id=settings.kafka_consumer_group,
        deadletter_topic=topics.deadletter,
        handler=handler,
    )
    return KafkaRuntime(
        service=SERVICE,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        security=settings.kafka_security,
        topics=[topics.received, topics.triaged, topics.lifecycle, topics.deadletter],
        outbox=(
            Outbox(engine, OUTBOX, wake_delay=settings.outbox_wake_delay_ms / 1000)
            if engine is not None
            else None
        ),
        consume=consume if settings.consumer_enabled else None,
    )
