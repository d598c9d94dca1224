"""Pure values of the triage service: intake items, stored cases, outcomes, labels, filters.

Nothing here does I/O; `service` composes these with the ports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from contracts import CaseSource, CaseSubmission, CloudEvent, Decision, Priority
from contracts.cases import Case
from contracts.envelope import OutboundEvent
from contracts.events import CaseTriaged
from contracts.topics import CASE_TRIAGED

EVENT_SOURCE = "/support-triage/triage"


def request_hash(submission: CaseSubmission) -> str:
    """SHA-256 of the submission's fields that differ from their defaults.

    Equal for semantically equal bodies (a default sent or left out hashes the same), and
    unchanged when the contract gains a field with a default: a body sent before that deploy
    hashes the same after it, so a retry of its idempotency key replays instead of answering
    409 (see *Contract evolution* in the README).
    """
    return hashlib.sha256(submission.model_dump_json(exclude_defaults=True).encode()).hexdigest()


def legacy_request_hash(submission: CaseSubmission) -> str:
    """The hash stored before `request_hash` left defaults out: the whole dump.

    Still accepted for a stored case, so the keys used before that deploy replay.
    """
    return hashlib.sha256(submission.model_dump_json().encode()).hexdigest()


#: Separates the submitter part of a scope from the rest (`kafka:<source>`, `http:<client>`).
HTTP_SCOPE = "http:"
KAFKA_SCOPE = "kafka:"
SCOPE_MAX = 300


def kafka_scope(source: str) -> str:
    """The de-duplication scope of a Kafka submitter: its CloudEvent `source`."""
    return (KAFKA_SCOPE + source)[:SCOPE_MAX]


def http_scope(client: str) -> str:
    """The de-duplication scope of an HTTP client (its authenticated name, or `anonymous`)."""
    return (HTTP_SCOPE + client)[:SCOPE_MAX]


@dataclass(frozen=True, slots=True)
class Intake:
    """One case to take in, from HTTP (idempotency key) or Kafka (event id).

    `scope` names the submitter (`kafka_scope`, `http_scope`): idempotency keys and
    `external_ref`s are unique per scope, so one submitter can never claim (or read back)
    another's reference.
    """

    submission: CaseSubmission
    idempotency_key: str | None = None
    event_id: str | None = None
    hash: str = ""
    scope: str = ""
    submitted_by: str | None = None

    @classmethod
    def of(
        cls,
        submission: CaseSubmission,
        *,
        idempotency_key: str | None = None,
        event_id: str | None = None,
        scope: str = "",
        submitted_by: str | None = None,
    ) -> Intake:
        """Build an intake item with its request hash; `submitted_by` is the authenticated
        principal of an HTTP intake (None from Kafka)."""
        return cls(
            submission, idempotency_key, event_id, request_hash(submission), scope, submitted_by
        )

    @property
    def scoped_key(self) -> tuple[str, str] | None:
        """(scope, idempotency key), or None."""
        return (self.scope, self.idempotency_key) if self.idempotency_key else None

    @property
    def scoped_ref(self) -> tuple[str, str] | None:
        """(scope, external_ref), or None."""
        ref = self.submission.external_ref
        return (self.scope, ref) if ref else None

    def same_request(self, stored_hash: str) -> bool:
        """Whether a stored case's request hash is this body's (or its legacy hash)."""
        return stored_hash in (self.hash, legacy_request_hash(self.submission))


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A stored case plus what de-duplication needs (the router's read model of a case is
    its `CaseRecord`)."""

    case: Case
    request_hash: str
    idempotency_key: str | None = None
    scope: str = ""
    submitted_by: str | None = None

    @property
    def external_ref(self) -> str | None:
        """The submitter's own id for the case."""
        return self.case.submission.external_ref

    @property
    def scoped_key(self) -> tuple[str, str] | None:
        """(scope, idempotency key), or None."""
        return (self.scope, self.idempotency_key) if self.idempotency_key else None

    @property
    def scoped_ref(self) -> tuple[str, str] | None:
        """(scope, external_ref), or None."""
        return (self.scope, self.external_ref) if self.external_ref else None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A case taken in (`replayed`: it was stored before under the same key and body)."""

    case: Case
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A Kafka event whose id was processed before."""

    event_id: str


@dataclass(frozen=True, slots=True)
class Label:
    """A training label: the squad a case truly belongs to (and, for corrections, who said so).

    `source` is `correction` (a reassignment), `resolution` (the squad a case had when it
    was resolved) or `import` (`triage labels import`). `from_squad`, `predicted_squad` and
    `by` come from the lifecycle event; labels stored before they were recorded have None
    there. An imported label has no stored case: it carries its `title` and `description`,
    and `dedup_key` (a digest of the row) makes importing the same row twice a no-op.
    """

    case_id: UUID
    squad: str
    source: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    from_squad: str | None = None
    predicted_squad: str | None = None
    by: str | None = None
    title: str | None = None
    description: str | None = None
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    """A stored label with its row id and its case's text (None when triage lacks the case).

    `case_squad` is the squad triage predicted for the case when it was received.
    """

    id: int
    label: Label
    title: str | None = None
    description: str | None = None
    case_squad: str | None = None


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """Filters of `GET /v1/labels`: the new squad, and labels created at or after `since`."""

    squad: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """One training example: a case's text and the squad that owns it."""

    title: str
    description: str
    squad: str


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A model trained and saved by a `ModelStore` (not yet in use by the service).

    `report` is the classifier's own evaluation object (for printing); `metrics` its summary.
    `classifier` is the saved model loaded back as the service loads it (a
    `triage.ports.Classifier`): the store loads it once to check it, and that same object is
    judged and, when promoted, served.
    """

    version: str
    metrics: dict[str, Any]
    path: str
    report: Any = None
    classifier: Any = None


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Filters of `GET /v1/cases`."""

    squad: str | None = None
    decision: Decision | None = None
    source: CaseSource | None = None
    priority: Priority | None = None
    received_after: datetime | None = None
    received_before: datetime | None = None
    submitted_by: str | None = None


def triaged_event(case: Case, *, topic: str) -> OutboundEvent:
    """The `support.case.triaged.v1` event of a stored case."""
    data = CaseTriaged(
        case_id=case.id,
        received_at=case.received_at,
        triaged_at=datetime.now(UTC),
        case=case.submission,
        result=case.triage,
    )
    event = CloudEvent.of(type=CASE_TRIAGED, source=EVENT_SOURCE, subject=str(case.id), data=data)
    return OutboundEvent(topic=topic, event=event, key=str(case.id))


JobStatus = Literal["running", "succeeded", "failed", "interrupted"]
ModelStatus = Literal["champion", "challenger", "rejected", "retired", "pruned"]


@dataclass(frozen=True, slots=True)
class TrainingCounts:
    """What went into a training set.

    Attributes:
        history_rows: Rows read from the history CSV.
        history_used: History rows kept (not overridden, squad known, text present).
        history_overridden: History rows dropped because a correction has the same text.
        history_skipped: History rows with no text or a squad that is not an owning squad.
        labels: Labels stored (corrections, resolutions, imports).
        corrections_used: Labelled cases whose latest label became an example.
        superseded: Labels replaced by another label of the same case: a later one, or one
            naming an owning squad when this one names Service Delivery.
        skipped_unknown_squad: Labelled cases whose latest squad is not an owning squad.
        skipped_missing_case: Labelled cases triage has no text for.
        holdout: Most recent labelled cases held out to compare challenger and champion.
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
    holdout: int = 0


@dataclass(frozen=True, slots=True)
class RetrainJob:
    """The state of one retrain, replaced as a whole when it changes (stored in the registry).

    `decision` is `promoted` or `rejected` once the challenger was judged.
    """

    id: str
    status: JobStatus
    started_at: datetime
    previous_version: str
    finished_at: datetime | None = None
    new_version: str | None = None
    decision: str | None = None
    counts: TrainingCounts | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A model version in the registry.

    Attributes:
        version: The model's version (unique).
        created_at: When it was registered.
        status: `champion` (served), `challenger` (being judged), `rejected` (judged worse,
            kept, never served unless promoted by hand), `retired` (a former champion) or
            `pruned` (its artifact deleted by the retention rule; the row stays as the
            record, `evaluation["pruned"]` says when and what its status was).
        metrics: The figures recorded at training (out-of-fold).
        evaluation: The holdout comparison: both models' scores, the verdict and its reasons.
        path: Where the artifact was written (the registry also keeps its bytes).
        sha256: SHA-256 of the stored artifact bytes.
        job_id: The retrain job that produced it (None for a model registered at start).
        promoted_at: When it last became champion.
    """

    version: str
    created_at: datetime
    status: ModelStatus
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    sha256: str = ""
    job_id: str | None = None
    promoted_at: datetime | None = None
