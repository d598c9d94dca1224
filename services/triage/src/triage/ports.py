"""Ports of the triage service: small protocols the service depends on.

Real adapters live in `triage.adapters` (db, model); fakes in `devkit.triage_fakes`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from contracts import CaseSubmission, TriageResult
from contracts.cases import Case
from contracts.catalogue import Catalogue
from contracts.envelope import OutboundEvent
from servicekit.audit import Audited
from triage.domain import (
    CaseFilter,
    Correction,
    Example,
    Label,
    LabelFilter,
    ModelRecord,
    RetrainJob,
    StoredCase,
    TrainedModel,
)


class Classifier(Protocol):
    """A trained model: predicts the owning squad of cases, in one batch call."""

    @property
    def version(self) -> str:
        """Model version (recorded on every case)."""
        ...

    @property
    def squads(self) -> list[str]:
        """Squads the model can predict."""
        ...

    @property
    def metrics(self) -> dict[str, Any]:
        """Evaluation figures recorded at training."""
        ...

    @property
    def trained_at(self) -> datetime | None:
        """When the model was trained."""
        ...

    @property
    def operating_point(self) -> dict[str, Any] | None:
        """Thresholds in force with their expected precision and coverage (None: unknown)."""
        ...

    def predict(
        self, cases: Sequence[CaseSubmission], *, threshold: float | None, margin: float = 0.1
    ) -> list[TriageResult]:
        """One result per case, in order; `threshold` None uses the model's thresholds."""
        ...

    def classify_texts(self, texts: Sequence[tuple[str, str]]) -> list[tuple[str | None, str]]:
        """(squad, decision) of each (title, description), at the model's own thresholds."""
        ...


@dataclass(frozen=True, slots=True)
class ModelState:
    """The model and catalogue in use, swapped as a whole (never mutated)."""

    classifier: Classifier
    catalogue: Catalogue
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ModelStore(Protocol):
    """Where models are kept: load the current one, or train one when there is none."""

    def exists(self) -> bool:
        """Whether a saved model is there to load."""
        ...

    def load(self, catalogue: Catalogue) -> Classifier:
        """Load the saved model; raise `ModelRefused` when it cannot be used."""
        ...

    def train(self, catalogue: Catalogue) -> None:
        """Train a model (from history, or the catalogue alone) and save it."""
        ...

    def history(self) -> list[Example]:
        """The configured history CSV's rows (none when there is no history).

        Raises `TrainingFailed` when the file cannot be read.
        """
        ...

    def retrain(
        self, examples: Sequence[Example], catalogue: Catalogue, *, progress: bool = False
    ) -> TrainedModel:
        """Train on `examples` and keep the model as a new version (not installed).

        Raises `TrainingFailed`.
        """
        ...

    def load_version(self, version: str, artifact: bytes, catalogue: Catalogue) -> Classifier:
        """Load a registered version from its artifact bytes; `ModelRefused` when unusable."""
        ...

    def pack(self, path: str | None = None) -> bytes:
        """The artifact at `path` (default: the saved model) as bytes for the registry."""
        ...

    def install(self, version: str, artifact: bytes) -> None:
        """Make this version the saved model (what a start or `triage predict` loads)."""
        ...

    def installed_version(self) -> str | None:
        """The version of the saved model (None without a readable one)."""
        ...

    def prune_files(self, versions: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Delete the kept copies of these versions (never the saved model itself); return
        what was deleted (or would be, with `dry_run`)."""
        ...


class ModelRegistry(Protocol):
    """Model versions, retrain jobs and the retrain lease, shared by every instance.

    Blocking calls (run them in a thread from async code).
    """

    def champion(self) -> ModelRecord | None:
        """The version in force, if any."""
        ...

    def get(self, version: str) -> ModelRecord | None:
        """One version."""
        ...

    def versions(self) -> list[ModelRecord]:
        """Every version, newest first."""
        ...

    def add(self, record: ModelRecord, artifact: bytes) -> None:
        """Register a version with its artifact bytes (a version registered before is kept)."""
        ...

    def artifact(self, version: str) -> bytes | None:
        """The stored artifact bytes of a version."""
        ...

    def promote(
        self,
        version: str,
        at: datetime,
        *,
        audit: Audited | None = None,
        lease: tuple[str, str] | None = None,
    ) -> ModelRecord:
        """Make `version` the champion and retire the previous one, writing `audit` (who did
        it) in the same transaction; `ModelVersionNotFound`. With `lease` (name, holder),
        only while that holder holds it, in that transaction (`RetrainLeaseLost`)."""
        ...

    def prune(self, versions: Sequence[str], at: datetime) -> list[str]:
        """Delete these versions' artifacts and mark them `pruned` (never the champion);
        return the versions pruned now."""
        ...

    def save_job(self, job: RetrainJob, *, audit: Audited | None = None) -> None:
        """Insert or replace a retrain job, writing `audit` (who started it) in the same
        transaction."""
        ...

    def job(self, job_id: str) -> RetrainJob | None:
        """One retrain job."""
        ...

    def interrupt_orphans(self, lease: str, now: datetime) -> int:
        """Mark `interrupted` every running job that does not hold `lease` (its process died);
        return how many."""
        ...

    def acquire(self, lease: str, holder: str, seconds: float, now: datetime) -> str | None:
        """Take the lease for `seconds` when free or lapsed; None when taken, else its holder."""
        ...

    def renew(self, lease: str, holder: str, seconds: float, now: datetime) -> bool:
        """Extend the lease `holder` holds; False when it lost it."""
        ...

    def release(self, lease: str, holder: str) -> None:
        """Give the lease up (nothing when `holder` does not hold it)."""
        ...


ScopedKey = tuple[str, str]
"""(submitter scope, key): idempotency keys and external_refs are unique per scope."""


class WriteConflict(Exception):
    """A write refused by a uniqueness rule: another writer stored the same key first.

    Raised by `CaseRepository.transaction` (the transaction is rolled back); reading again
    finds what the other writer stored.
    """


class CaseTransaction(Protocol):
    """Reads and writes inside one database transaction."""

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these Kafka event ids were processed before."""
        ...

    def by_idempotency_keys(self, keys: Sequence[ScopedKey]) -> dict[ScopedKey, StoredCase]:
        """Stored cases by (scope, idempotency key)."""
        ...

    def by_external_refs(self, refs: Sequence[ScopedKey]) -> dict[ScopedKey, StoredCase]:
        """Stored cases by (scope, external_ref)."""
        ...

    def add(
        self,
        records: Sequence[StoredCase],
        events: Sequence[OutboundEvent],
        processed_ids: Sequence[str],
    ) -> None:
        """Insert cases, their outbox rows and processed event ids."""
        ...

    def add_labels(self, labels: Sequence[Label], processed_ids: Sequence[str]) -> None:
        """Insert training labels and processed event ids."""
        ...

    def known_label_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these label `dedup_key`s are stored already."""
        ...


class CaseRepository(Protocol):
    """Cases, outbox, processed ids and labels (blocking calls; run them in a thread)."""

    def transaction(self) -> AbstractContextManager[CaseTransaction]:
        """A transaction, committed when the block exits without error.

        Raises `WriteConflict` when a unique key (idempotency key, external_ref, event id)
        was taken by another writer.
        """
        ...

    def get(self, case_id: UUID, *, submitted_by: str | None = None) -> Case | None:
        """One case (None unless `submitted_by` submitted it, when given)."""
        ...

    def find(self, flt: CaseFilter, *, limit: int, before: UUID | None = None) -> list[Case]:
        """Cases matching `flt`, newest first, with ids below `before`."""
        ...

    def labels(self) -> list[Label]:
        """Every training label."""
        ...

    def corrections(
        self, flt: LabelFilter | None = None, *, limit: int | None = None, before: int | None = None
    ) -> list[Correction]:
        """Labels with their cases' text, newest first (by row id), with ids below `before`."""
        ...

    def ping(self) -> None:
        """Raise when the database does not answer."""
        ...
