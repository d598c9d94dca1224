"""The running triage service as its entrypoints see it: `Container`, built by `bootstrap`.

It takes cases in (HTTP through the group committer, Kafka in batches: `write_batch`, which
also counts them), stores corrections, keeps the model in use (`models`, a `ModelKeeper`) and
owns the Kafka side (`runtime`, None when the process runs none). The HTTP lifespan calls
`start` and `stop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from contracts.events import CaseReassigned, CaseResolved
from servicekit.audit import AuditLog
from servicekit.db import GroupCommitter
from servicekit.runtime import KafkaRuntime
from triage import metrics, service
from triage.config import Settings
from triage.domain import Accepted, Intake
from triage.keeper import ModelKeeper
from triage.ports import CaseRepository, ModelState
from triage.service import Outcome, TriageOptions


@dataclass
class Container:
    """Everything the entrypoints need."""

    settings: Settings
    repo: CaseRepository
    models: ModelKeeper
    options: TriageOptions
    engine: Engine | None = None
    runtime: KafkaRuntime | None = None
    audit: AuditLog | None = None
    committer: GroupCommitter[Intake, Outcome] = field(init=False)

    def __post_init__(self) -> None:
        self.committer = GroupCommitter(
            self.write_batch, max_batch=256, max_pending=self.settings.intake_max_pending
        )

    @property
    def state(self) -> ModelState:
        """The model and catalogue in use."""
        return self.models.state

    def write_batch(self, items: Sequence[Intake]) -> list[Outcome]:
        """Classify and store a batch in one transaction (blocking), and count the outcomes."""
        outcomes = service.take_in(items, repo=self.repo, state=self.state, options=self.options)
        count(outcomes)
        return outcomes

    def record_corrections(self, items: Sequence[tuple[str, CaseReassigned | CaseResolved]]) -> int:
        """Store reassignments and resolutions as training labels (blocking); how many were new."""
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
        """Follow the model registry; start the Kafka side in the background (if any)."""
        await self.models.start()
        if self.runtime is not None:
            await self.runtime.start()

    async def stop(self) -> None:
        """Stop the Kafka side, a retrain in flight and the group committer."""
        self.models.close()
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
