"""The model in use and its swaps: reload, catalogue reload, retrain, promotion, following.

`ModelKeeper` holds the `ModelState` (model + catalogue) the service classifies with and
replaces it as a whole, one swap at a time (an `asyncio.Lock`), so a request sees either the
old state or the new one. A refused model or catalogue raises and keeps the state.

The model registry in the database (`ModelRegistry`) says which version is the champion.
Every instance **polls** it (`MODEL_POLL_SECONDS`, default 5 s) and swaps to a newly promoted
version (or a rollback) within that delay, loading the artifact bytes the registry keeps, so
no restart and no shared disk are needed; it also installs it in its `MODEL_DIR`, so a
restart or a catalogue reload keeps it. `POST /v1/model/reload` loads `MODEL_DIR` and makes
that model the champion (registering it when it is new): the way to serve a model trained
with `triage train --out MODEL_DIR`.

A retrain runs in a worker thread (`training.retrain`) as a job of `triage.jobs.RetrainJobs`
(the same lifecycle as `triage retrain`): it holds the registry's retrain lease (holder: the
job id), renewed every third of `RETRAIN_LEASE_SECONDS`; a second retrain anywhere answers
`RetrainRunning`. The job is stored in the registry when it starts and when it ends; at
start, and whenever a job is read, running jobs whose lease lapsed (their process died) are
marked `interrupted`. A promoted challenger is served as the retrain loaded it (never loaded
a second time) before the job is recorded as succeeded. Jobs are counted in
`triage_model_retrains_total`.

Reload, promotion and the start of a retrain take the principal who asked (`by`) and write
its audit entry (`model.reload`, `model.promote`, `model.retrain`) in the registry
transaction that makes the change (the new champion, the stored job). A catalogue reload
changes only this process's memory: its entry is written after it
(`servicekit.audit_http.audit_after`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from contracts.catalogue import Catalogue
from servicekit.audit import Audited
from triage import metrics, service, training
from triage.domain import ModelRecord, RetrainJob
from triage.errors import RetrainJobNotFound, TriageError
from triage.jobs import RETRAIN_LEASE, RetrainJobs
from triage.ports import CaseRepository, Classifier, ModelRegistry, ModelState, ModelStore
from triage.training import RetrainOptions

__all__ = ["RETRAIN_LEASE", "LoopOptions", "ModelKeeper"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """How the keeper retrains and follows the registry."""

    retrain: RetrainOptions = field(default_factory=RetrainOptions)
    poll_seconds: float = 5.0
    lease_seconds: float = 30.0


class ModelKeeper:
    """Keeps the model state in use; see the module docstring."""

    def __init__(
        self,
        *,
        state: ModelState,
        store: ModelStore,
        repo: CaseRepository,
        registry: ModelRegistry,
        options: LoopOptions | None = None,
    ) -> None:
        self.state = state
        self.store = store
        self.repo = repo
        self.registry = registry
        self.options = options or LoopOptions()
        self.jobs = RetrainJobs(registry, lease_seconds=self.options.lease_seconds)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._poll: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Mark orphaned jobs interrupted and start following the registry."""
        found = await asyncio.to_thread(self.jobs.interrupt_orphans)
        if found:
            log.warning("%d retrain job(s) were interrupted by a stop; marked interrupted", found)
        if self.options.poll_seconds > 0 and self._poll is None:
            self._poll = asyncio.create_task(self._follow(), name="triage-model-follow")

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            try:
                await self.sync()
            except TriageError as exc:
                log.warning("cannot serve the registry's champion: %s", exc.message)
            except Exception:
                log.exception("following the model registry failed")

    async def sync(self) -> ModelState:
        """Swap to the registry's champion when it is not the model in use."""
        champion = await asyncio.to_thread(self.registry.champion)
        if champion is None or champion.version == self.state.classifier.version:
            return self.state
        async with self._lock:
            if champion.version != self.state.classifier.version:
                clf = await asyncio.to_thread(
                    training.load_registered,
                    champion.version,
                    registry=self.registry,
                    store=self.store,
                    catalogue=self.state.catalogue,
                )
                log.info("model %s in use (was %s)", clf.version, self.state.classifier.version)
                self.state = ModelState(clf, self.state.catalogue)
        await self._drop_pruned()
        return self.state

    async def _drop_pruned(self) -> None:
        """Delete this instance's copies of versions pruned elsewhere (never fails a swap)."""
        try:
            await asyncio.to_thread(
                training.drop_pruned_files,
                registry=self.registry,
                store=self.store,
                protect={self.state.classifier.version},
            )
        except Exception:
            log.exception("deleting the copies of pruned model versions failed")

    async def reload_model(self, by: str | None = None) -> ModelState:
        """Load the saved model again, swap it in and make it the registry's champion (every
        instance follows), with `by`'s audit entry in that transaction; `ModelRefused` keeps
        the current one."""
        async with self._lock:
            state = await asyncio.to_thread(
                service.reload_model, store=self.store, current=self.state
            )
            version = state.classifier.version
            audit = Audited(by, "model.reload", version) if by is not None else None
            await asyncio.to_thread(
                training.register_saved,
                registry=self.registry,
                store=self.store,
                loaded=state.classifier,
                why="loaded from MODEL_DIR by POST /v1/model/reload",
                audit=audit,
            )
            self.state = state
            return self.state

    async def reload_catalogue(
        self, path: Path, service_delivery_group: str | None = None
    ) -> ModelState:
        """Load the catalogue at `path` (and the model against it) and swap both in;
        `CatalogueInvalid` or `ModelRefused` keeps the current state."""
        async with self._lock:
            self.state = await asyncio.to_thread(
                service.reload_catalogue,
                store=self.store,
                catalogue_path=path,
                current=self.state,
                service_delivery_group=service_delivery_group,
            )
            return self.state

    async def promote(self, version: str, by: str | None = None) -> ModelRecord:
        """Make a registered version the champion here and now (every instance follows),
        with `by`'s audit entry in that transaction."""
        async with self._lock:
            previous = {"previous_version": self.state.classifier.version}
            audit = Audited(by, "model.promote", version, previous) if by is not None else None
            record, clf = await asyncio.to_thread(
                training.promote,
                version,
                registry=self.registry,
                store=self.store,
                catalogue=self.state.catalogue,
                audit=audit,
            )
            self.state = ModelState(clf, self.state.catalogue)
        metrics.PROMOTIONS.labels("manual").inc()
        log.info("model %s promoted by hand", version)
        return record

    async def job(self, job_id: str) -> RetrainJob:
        """One job (after marking orphans interrupted); `RetrainJobNotFound`."""
        await asyncio.to_thread(self.jobs.interrupt_orphans)
        job = await asyncio.to_thread(self.registry.job, job_id)
        if job is None:
            raise RetrainJobNotFound(f"no retrain job {job_id}")
        return job

    async def start_retrain(self, by: str | None = None) -> RetrainJob:
        """Start one background retrain; `RetrainRunning` when one runs anywhere. `by`'s
        audit entry is stored with the job, in one transaction."""
        job = await asyncio.to_thread(self.jobs.begin, self.state.classifier.version, by=by)
        task = asyncio.create_task(self._run_retrain(job), name="triage-retrain")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def wait_retrains(self) -> None:
        """Wait for the retrains this process runs (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        """Stop following; forget a retrain in flight (its lease is given up, the job is
        marked interrupted by the next reader; its training thread may run on, but promotes
        nothing without the lease: `RetrainLeaseLost`)."""
        if self._poll is not None:
            self._poll.cancel()
        for task in self._tasks:
            task.cancel()

    async def _run_retrain(self, job: RetrainJob) -> None:
        state = self.state
        try:
            outcome = await asyncio.to_thread(
                training.retrain,
                repo=self.repo,
                store=self.store,
                registry=self.registry,
                catalogue=state.catalogue,
                champion=state.classifier,
                options=self.options.retrain,
                job_id=job.id,
            )
            if outcome.classifier is not None:  # served before the job says it is promoted
                await self._serve(outcome.classifier, state.catalogue)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.jobs.abandon, job)
            raise
        except Exception as exc:
            if isinstance(exc, TriageError):
                log.warning("retrain %s failed: %s: %s", job.id, exc.code, exc.message)
            else:
                log.exception("retrain %s failed", job.id)
            metrics.RETRAINS.labels("failed").inc()  # counted before a reader can see the job
            await asyncio.to_thread(self.jobs.failed, job, exc)
            return
        decision = "promoted" if outcome.verdict.promote else "rejected"
        metrics.RETRAINS.labels("succeeded").inc()
        metrics.PROMOTIONS.labels(decision).inc()
        await asyncio.to_thread(self.jobs.succeeded, job, outcome)
        log.info(
            "retrain %s: challenger %s %s (%s)",
            job.id,
            outcome.record.version,
            decision,
            "; ".join(outcome.verdict.reasons) or "not worse than the champion",
        )
        if outcome.pruned:
            log.info("retrain %s pruned model version(s) %s", job.id, ", ".join(outcome.pruned))

    async def _serve(self, clf: Classifier, catalogue: Catalogue) -> None:
        """Serve a model this instance just promoted, as loaded (no second load); a catalogue
        reloaded meanwhile makes it follow the registry instead (loading against it)."""
        async with self._lock:
            if self.state.catalogue is catalogue:
                log.info("model %s in use (was %s)", clf.version, self.state.classifier.version)
                self.state = ModelState(clf, catalogue)
        await self.sync()
