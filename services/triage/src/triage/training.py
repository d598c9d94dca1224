"""Retraining: labels + history -> training set -> new model; retrain jobs; the labels list.

The training set is the history CSV (`HISTORY_PATH`, optional) plus the corrections stored
as labels. For each corrected case the case's title and description are paired with the
squad of its **latest** label (by time, then by row id): a later correction of the same case
supersedes an earlier one. A correction also overrides every history row with the same text
(whitespace-normalised title and description). Labels whose squad is not a squad of the
catalogue (removed or renamed) or is Service Delivery are skipped and counted, as are history
rows with such squads and labels of cases triage does not have.

Retrain jobs are kept in memory (`RetrainJobs`): one runs at a time, and a restart forgets
them (a job running at shutdown never finishes; the saved model is only replaced when a
training has completed, so nothing is left half written but the `versions/` folder may hold
a model no job reported).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from contracts.catalogue import Catalogue
from servicekit.paging import as_int, decode_cursor, encode_cursor
from triage.domain import Correction, Example, LabelFilter, TrainedModel
from triage.errors import RetrainJobNotFound, RetrainRunning
from triage.ports import CaseRepository, ModelStore

JobStatus = Literal["running", "succeeded", "failed"]
LABELS_CURSOR = "labels"


@dataclass(frozen=True, slots=True)
class TrainingCounts:
    """What went into a training set.

    Attributes:
        history_rows: Rows read from the history CSV.
        history_used: History rows kept (not overridden, squad known, text present).
        history_overridden: History rows dropped because a correction has the same text.
        history_skipped: History rows with no text or a squad that is not an owning squad.
        labels: Correction labels stored.
        corrections_used: Corrected cases whose latest label became an example.
        superseded: Labels replaced by a later label of the same case.
        skipped_unknown_squad: Corrected cases whose latest squad is not an owning squad.
        skipped_missing_case: Corrected cases triage has no text for.
    """

    history_rows: int = 0
    history_used: int = 0
    history_overridden: int = 0
    history_skipped: int = 0
    labels: int = 0
    corrections_used: int = 0
    superseded: int = 0
    skipped_unknown_squad: int = 0
    skipped_missing_case: int = 0


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Examples to train on (history first, then corrections) and how they were chosen."""

    examples: list[Example]
    counts: TrainingCounts


def _key(title: str, description: str) -> tuple[str, str]:
    return " ".join(title.split()), " ".join(description.split())


def assemble_training_set(
    history: Sequence[Example], corrections: Sequence[Correction], catalogue: Catalogue
) -> TrainingSet:
    """Merge history rows and stored corrections into one training set (pure).

    Args:
        history: Rows of the history CSV, in file order.
        corrections: Stored labels with their cases' text, in any order.
        catalogue: The catalogue in force; only its owning squads are kept.

    Returns:
        The examples and the counts describing what was kept, replaced and skipped.
    """
    owning = {name for name, s in catalogue.squads.items() if not s.service_delivery}
    latest: dict[Any, Correction] = {}
    for c in corrections:
        prior = latest.get(c.label.case_id)
        if prior is None or (c.label.created_at, c.id) > (prior.label.created_at, prior.id):
            latest[c.label.case_id] = c
    used: list[Example] = []
    unknown = missing = 0
    for c in sorted(latest.values(), key=lambda c: (c.label.created_at, c.id)):
        if c.title is None and c.description is None:
            missing += 1
        elif c.label.squad not in owning:
            unknown += 1
        else:
            used.append(Example(c.title or "", c.description or "", c.label.squad))
    corrected = {_key(e.title, e.description) for e in used}
    kept: list[Example] = []
    overridden = skipped = 0
    for row in history:
        if _key(row.title, row.description) in corrected:
            overridden += 1
        elif not (row.title or row.description) or row.squad not in owning:
            skipped += 1
        else:
            kept.append(row)
    counts = TrainingCounts(
        history_rows=len(history),
        history_used=len(kept),
        history_overridden=overridden,
        history_skipped=skipped,
        labels=len(corrections),
        corrections_used=len(used),
        superseded=len(corrections) - len(latest),
        skipped_unknown_squad=unknown,
        skipped_missing_case=missing,
    )
    return TrainingSet([*kept, *used], counts)


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """A model trained and saved from history and corrections (not yet loaded)."""

    model: TrainedModel
    counts: TrainingCounts


def retrain(
    *, repo: CaseRepository, store: ModelStore, catalogue: Catalogue, progress: bool = False
) -> RetrainResult:
    """Build the training set, train, and save the model as a new version (blocking).

    The caller swaps it in (`service.reload_model`). Raises `TrainingFailed`.
    """
    data = assemble_training_set(store.history(), repo.corrections(), catalogue)
    model = store.retrain(data.examples, catalogue, progress=progress)
    return RetrainResult(model, data.counts)


@dataclass(frozen=True, slots=True)
class LabelPage:
    """One page of corrections, newest first, and the cursor of the next one."""

    items: list[Correction]
    next_cursor: str | None


def list_labels(
    flt: LabelFilter, *, repo: CaseRepository, limit: int, cursor: str | None = None
) -> LabelPage:
    """A page of stored labels with their cases' text, newest first (keyset on the row id).

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    (before,) = decode_cursor(cursor, LABELS_CURSOR, as_int) if cursor else (None,)
    rows = repo.corrections(flt, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return LabelPage(rows, encode_cursor(LABELS_CURSOR, rows[-1].id) if more and rows else None)


@dataclass(frozen=True, slots=True)
class RetrainJob:
    """The state of one retrain, replaced as a whole when it changes."""

    id: str
    status: JobStatus
    started_at: datetime
    previous_version: str
    finished_at: datetime | None = None
    new_version: str | None = None
    counts: TrainingCounts | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None


class RetrainJobs:
    """In-memory retrain jobs (thread-safe); at most one is running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, RetrainJob] = {}
        self._running: str | None = None

    def start(self, previous_version: str) -> RetrainJob:
        """Register a running job; `RetrainRunning` when one runs already."""
        with self._lock:
            if self._running is not None:
                raise RetrainRunning(
                    f"retrain job {self._running} is still running", job_id=self._running
                )
            job = RetrainJob(
                id=str(uuid.uuid4()),
                status="running",
                started_at=datetime.now(UTC),
                previous_version=previous_version,
            )
            self._jobs[job.id] = job
            self._running = job.id
            return job

    def finish(self, job_id: str, **changes: Any) -> RetrainJob:
        """Record the end of a job (`status` and results in `changes`)."""
        with self._lock:
            job = replace(self._jobs[job_id], finished_at=datetime.now(UTC), **changes)
            self._jobs[job_id] = job
            if self._running == job_id:
                self._running = None
            return job

    def get(self, job_id: str) -> RetrainJob:
        """One job; `RetrainJobNotFound` when this process has none with that id."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise RetrainJobNotFound(f"no retrain job {job_id}")
        return job

    @property
    def running(self) -> str | None:
        """The id of the running job, if any."""
        with self._lock:
            return self._running
