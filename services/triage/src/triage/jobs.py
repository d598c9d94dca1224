"""A retrain job's lifecycle, the same for the service (`ModelKeeper`) and `triage retrain`.

`RetrainJobs.begin` marks running jobs whose lease lapsed `interrupted` (their process died),
takes the registry's `retrain` lease (holder: the new job's id; `RetrainRunning` names the
holder when another job has it), stores the job as `running` and renews the lease every
third of `lease_seconds` in a thread until the job ends. `succeeded` and `failed` store the
verdict or the error and give the lease up; `abandon` gives it up without a verdict (the
job is then marked interrupted by the next reader). `run` is the whole job for a caller that
blocks on it (the CLI): the keeper runs the training in a worker thread and swaps the
promoted model in before it records the verdict, so a client that sees the job succeed is
served the new model.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from servicekit.audit import Audited
from triage.domain import RetrainJob
from triage.errors import RetrainRunning, TriageError
from triage.ports import ModelRegistry
from triage.training import RETRAIN_LEASE, RetrainOutcome

log = logging.getLogger(__name__)


class RetrainJobs:
    """Starts, renews and records retrain jobs in `registry`; see the module docstring."""

    def __init__(self, registry: ModelRegistry, *, lease_seconds: float = 30.0) -> None:
        self.registry = registry
        self.lease_seconds = lease_seconds
        self._renewing: dict[str, threading.Event] = {}
        self._guard = threading.Lock()

    def interrupt_orphans(self) -> int:
        """Mark running jobs without a live lease `interrupted`; how many."""
        return self.registry.interrupt_orphans(RETRAIN_LEASE, datetime.now(UTC))

    def begin(self, previous_version: str, *, by: str | None = None) -> RetrainJob:
        """Take the lease and store a running job; `RetrainRunning` when one runs anywhere.

        With `by` (who asked), the job's `model.retrain` audit entry is written in the
        transaction that stores it.
        """
        self.interrupt_orphans()
        job = RetrainJob(
            id=str(uuid.uuid4()),
            status="running",
            started_at=datetime.now(UTC),
            previous_version=previous_version,
        )
        holder = self.registry.acquire(RETRAIN_LEASE, job.id, self.lease_seconds, datetime.now(UTC))
        if holder is not None:
            raise RetrainRunning(f"retrain job {holder} is still running", job_id=holder)
        previous = {"previous_version": job.previous_version}
        audit = Audited(by, "model.retrain", job.id, previous) if by is not None else None
        try:
            self.registry.save_job(job, audit=audit)
        except BaseException:
            self.registry.release(RETRAIN_LEASE, job.id)
            raise
        stop = threading.Event()
        with self._guard:
            self._renewing[job.id] = stop
        threading.Thread(
            target=self._renew, args=(job.id, stop), name="triage-retrain-lease", daemon=True
        ).start()
        return job

    def _renew(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.lease_seconds / 3):
            try:
                kept = self.registry.renew(
                    RETRAIN_LEASE, job_id, self.lease_seconds, datetime.now(UTC)
                )
            except Exception:
                log.exception("renewing the lease of retrain %s failed", job_id)
                continue
            if not kept:
                log.warning("retrain %s lost its lease", job_id)

    def succeeded(self, job: RetrainJob, outcome: RetrainOutcome) -> RetrainJob:
        """Store the verdict (new version, decision, counts, figures) and end the job."""
        return self._end(
            replace(
                job,
                status="succeeded",
                finished_at=datetime.now(UTC),
                new_version=outcome.record.version,
                decision="promoted" if outcome.verdict.promote else "rejected",
                counts=outcome.counts,
                metrics={**outcome.record.metrics, "evaluation": outcome.record.evaluation},
            )
        )

    def failed(self, job: RetrainJob, exc: BaseException) -> RetrainJob:
        """Store the error (a `TriageError`'s code, else `internal`) and end the job."""
        code, message = (
            (exc.code, exc.message) if isinstance(exc, TriageError) else ("internal", str(exc))
        )
        return self._end(
            replace(
                job,
                status="failed",
                finished_at=datetime.now(UTC),
                error=message,
                error_code=code,
            )
        )

    def abandon(self, job: RetrainJob) -> None:
        """Stop renewing and give the lease up, recording nothing (the process is stopping)."""
        self._stop(job.id)
        self.registry.release(RETRAIN_LEASE, job.id)

    def run(self, job: RetrainJob, work: Callable[[], RetrainOutcome]) -> RetrainOutcome:
        """Run `work` as `job` and record how it ended; its exception is re-raised."""
        try:
            outcome = work()
        except Exception as exc:
            self.failed(job, exc)
            raise
        except BaseException:  # interrupted (Ctrl-C): the job is marked interrupted
            self.abandon(job)
            raise
        self.succeeded(job, outcome)
        return outcome

    def _end(self, done: RetrainJob) -> RetrainJob:
        self._stop(done.id)
        try:
            self.registry.save_job(done)
        finally:
            self.registry.release(RETRAIN_LEASE, done.id)
        return done

    def _stop(self, job_id: str) -> None:
        with self._guard:
            stop = self._renewing.pop(job_id, None)
        if stop is not None:
            stop.set()
