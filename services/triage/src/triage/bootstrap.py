"""The composition root: settings -> adapters -> container; tests inject fakes here.

`build_container(settings, ...)` wires the repository, model store, model state and group
committer. `Container.start()` (called by the HTTP lifespan) starts the Kafka side in the
background: create topics, start the producer, then run the outbox relay and the consumer.
While the broker is unreachable it retries with backoff and HTTP keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from contracts.events import CaseReassigned
from servicekit.db import GroupCommitter, make_engine
from servicekit.runtime import Consume, KafkaRuntime, Outbox
from triage import metrics, service, training
from triage.adapters.db import OUTBOX, SqlCaseRepository
from triage.adapters.memory import FakeModelStore
from triage.adapters.model import DirModelStore
from triage.config import Settings
from triage.domain import Accepted, Intake, ModelState
from triage.entrypoints.consumer import make_handler
from triage.errors import TriageError
from triage.ports import CaseRepository, Classifier, ModelStore
from triage.service import Outcome, TriageOptions
from triage.training import RetrainJob, RetrainJobs

log = logging.getLogger(__name__)
SERVICE = "triage"


@dataclass
class Container:
    """Everything the entrypoints need; `state` is replaced as a whole on reload."""

    settings: Settings
    repo: CaseRepository
    store: ModelStore
    state: ModelState
    options: TriageOptions
    engine: Engine | None = None
    runtime: KafkaRuntime | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jobs: RetrainJobs = field(default_factory=RetrainJobs)
    _retrain_task: asyncio.Task[None] | None = None
    committer: GroupCommitter[Intake, Outcome] = field(init=False)

    def __post_init__(self) -> None:
        self.committer = GroupCommitter(self.write_batch, max_batch=256)

    def write_batch(self, items: Sequence[Intake]) -> list[Outcome]:
        """Classify and store a batch in one transaction (blocking; counts metrics).

        Another replica may store the same idempotency key or external_ref between this
        transaction's read and its insert; the unique constraint then refuses the insert, and
        the batch is taken in once more: the second read finds the stored case and answers a
        replay (or an `IdempotencyConflict`) instead of an error.
        """
        try:
            outcomes = service.take_in(
                items, repo=self.repo, state=self.state, options=self.options
            )
        except IntegrityError:
            log.info("intake raced another writer on a unique key; reading again")
            outcomes = service.take_in(
                items, repo=self.repo, state=self.state, options=self.options
            )
        count(outcomes)
        return outcomes

    def record_corrections(self, items: Sequence[tuple[str, CaseReassigned]]) -> int:
        """Store reassignments as training labels (blocking); how many were new."""
        return service.record_corrections(items, repo=self.repo)

    def wake(self) -> None:
        """New outbox rows were committed: let the relay look now."""
        if self.runtime is not None:
            self.runtime.wake()

    async def submit(self, item: Intake) -> Outcome:
        """Take one case in through the group committer; wake the relay after the commit."""
        outcome = await self.committer.submit(item)
        if isinstance(outcome, Accepted) and not outcome.replayed:
            self.wake()
        return outcome

    async def start(self) -> None:
        """Start the Kafka side in the background (none when built with `kafka=False`)."""
        if self.runtime is not None:
            await self.runtime.start()

    async def start_retrain(self) -> RetrainJob:
        """Start one background retrain; `RetrainRunning` when one runs already."""
        job = self.jobs.start(self.state.classifier.version)
        self._retrain_task = asyncio.create_task(self._retrain(job.id), name="triage-retrain")
        return job

    async def _retrain(self, job_id: str) -> None:
        """Train in a worker thread, then swap the model in as `POST /v1/model/reload` does."""
        try:
            result = await asyncio.to_thread(
                training.retrain, repo=self.repo, store=self.store, catalogue=self.state.catalogue
            )
            async with self.reload_lock:
                previous = self.state.classifier.version
                state = await asyncio.to_thread(
                    service.reload_model, store=self.store, current=self.state
                )
                self.state = state
        except TriageError as exc:
            log.warning("retrain %s failed: %s: %s", job_id, exc.code, exc.message)
            self.jobs.finish(job_id, status="failed", error=exc.message, error_code=exc.code)
            metrics.RETRAINS.labels("failed").inc()
            return
        except Exception as exc:
            log.exception("retrain %s failed", job_id)
            self.jobs.finish(job_id, status="failed", error=str(exc), error_code="internal")
            metrics.RETRAINS.labels("failed").inc()
            return
        self.jobs.finish(
            job_id,
            status="succeeded",
            previous_version=previous,
            new_version=state.classifier.version,
            counts=result.counts,
            metrics=dict(result.model.metrics),
        )
        metrics.RETRAINS.labels("succeeded").inc()
        log.info("retrain %s: model %s in use (was %s)", job_id, state.classifier.version, previous)

    async def stop(self) -> None:
        """Stop the Kafka side, a retrain in flight and the group committer."""
        if self._retrain_task is not None:
            self._retrain_task.cancel()  # the worker thread finishes on its own; nothing swaps
        if self.runtime is not None:
            await self.runtime.stop()
        await self.committer.close()
        if self.engine is not None:
            self.engine.dispose()


def count(outcomes: Sequence[Outcome]) -> None:
    """Update the case and duplicate counters."""
    for o in outcomes:
        if isinstance(o, Accepted) and not o.replayed:
            metrics.CASES.labels(o.case.submission.source.value, o.case.triage.decision.value).inc()
            metrics.CONFIDENCE.observe(o.case.triage.confidence)
        elif isinstance(o, Accepted):
            metrics.DUPLICATES.labels("replayed").inc()
        elif isinstance(o, service.IdempotencyConflict):
            metrics.DUPLICATES.labels("conflict").inc()
        else:
            metrics.DUPLICATES.labels("event_id").inc()


def build_container(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    store: ModelStore | None = None,
    repo: CaseRepository | None = None,
    engine: Engine | None = None,
    kafka: bool = True,
) -> Container:
    """Wire the service from `settings`; pass fakes to replace the real adapters."""
    if repo is None:
        engine = engine or make_engine(settings.database_url)
        repo = SqlCaseRepository(engine)
    if store is None:
        store = (
            FakeModelStore(lambda _c: classifier)
            if classifier is not None
            else DirModelStore(
                settings.model_dir,
                history_path=settings.history_path,
                target_precision=settings.target_precision,
            )
        )
    state = service.start_state(
        store=store,
        catalogue_path=settings.catalogue_path,
        service_delivery_group=settings.service_delivery_group,
    )
    log.info(
        "model %s loaded; catalogue %s (%d squads)",
        state.classifier.version,
        settings.catalogue_path,
        len(state.catalogue.squads),
    )
    container = Container(
        settings=settings,
        repo=repo,
        store=store,
        state=state,
        options=TriageOptions(
            threshold=settings.assign_threshold,
            margin=settings.span_margin,
            triaged_topic=settings.topics.triaged,
        ),
        engine=engine,
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
    return KafkaRuntime(
        service=SERVICE,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        topics=[topics.received, topics.triaged, topics.lifecycle, topics.deadletter],
        outbox=(
            Outbox(engine, OUTBOX, wake_delay=settings.outbox_wake_delay_ms / 1000)
            if engine is not None
            else None
        ),
        consume=(
            Consume(
                topics=[topics.received, topics.lifecycle],
                group_id=settings.kafka_consumer_group,
                deadletter_topic=topics.deadletter,
                handler=handler,
            )
            if settings.consumer_enabled
            else None
        ),
    )
