"""The model in use and its swaps: reload, catalogue reload, background retrain.

`ModelKeeper` holds the `ModelState` (model + catalogue) the service classifies with and
replaces it as a whole, one swap at a time (an `asyncio.Lock`), so a request sees either the
old state or the new one. A retrain runs in a worker thread (`training.retrain`) and then
swaps like `POST /v1/model/reload`; its job is kept in `RetrainJobs` and counted in
`triage_model_retrains_total`. A refused model or catalogue raises and keeps the state.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from triage import metrics, service, training
from triage.errors import TriageError
from triage.ports import CaseRepository, ModelState, ModelStore
from triage.training import RetrainJob, RetrainJobs

log = logging.getLogger(__name__)


class ModelKeeper:
    """Keeps the model state in use; see the module docstring."""

    def __init__(self, *, state: ModelState, store: ModelStore, repo: CaseRepository) -> None:
        self.state = state
        self.store = store
        self.repo = repo
        self.jobs = RetrainJobs()
        self._lock = asyncio.Lock()
        self._retrain: asyncio.Task[None] | None = None

    async def reload_model(self) -> ModelState:
        """Load the saved model again and swap it in; `ModelRefused` keeps the current one."""
        async with self._lock:
            self.state = await asyncio.to_thread(
                service.reload_model, store=self.store, current=self.state
            )
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

    def start_retrain(self) -> RetrainJob:
        """Start one background retrain; `RetrainRunning` when one runs already."""
        job = self.jobs.start(self.state.classifier.version)
        self._retrain = asyncio.create_task(self._run_retrain(job.id), name="triage-retrain")
        return job

    def close(self) -> None:
        """Forget a retrain in flight (its worker thread finishes on its own; nothing swaps)."""
        if self._retrain is not None:
            self._retrain.cancel()

    async def _run_retrain(self, job_id: str) -> None:
        try:
            result = await asyncio.to_thread(
                training.retrain, repo=self.repo, store=self.store, catalogue=self.state.catalogue
            )
            previous = self.state.classifier.version
            state = await self.reload_model()
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
