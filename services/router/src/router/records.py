"""What the router stores and answers: its read model of cases, history, swarms, notifications.

These pydantic models are the rows as the service sees them (the database adapter maps them
to tables) and, where safe, the bodies the HTTP API returns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.cases import Candidate, CaseSource, MatchedComponent, Priority, Recommendation
from contracts.events import EscalationReason
from router.domain.lifecycle import CaseState, LifecycleStatus
from router.domain.policy import ModelMode


class CaseRecord(BaseModel):
    """One case in the router's read model."""

    id: UUID
    title: str
    description: str
    priority: Priority
    source: CaseSource
    received_at: datetime
    triaged_at: datetime | None = None
    predicted_squad: str | None = None
    confidence: float | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    matched_components: list[MatchedComponent] = Field(default_factory=list)
    model_version: str | None = None
    status: LifecycleStatus = LifecycleStatus.TRIAGED
    squad: str | None = None
    escalation_reason: EscalationReason | None = None
    ack_deadline: datetime | None = None
    moved_away_from: list[str] = Field(default_factory=list)
    updated_at: datetime
    version: int = Field(default=0, description="Optimistic-concurrency counter.")
    model_mode: ModelMode | None = Field(
        default=None,
        description="The model's mode for the predicted squad when the router decided "
        "(`auto`, `suggest`, `shadow`, `off`): why a confident case may not be assigned "
        "automatically.",
    )
    recommendation: Recommendation | None = Field(
        default=None,
        description="Triage's recommendation with the threshold the router applied; in "
        "`shadow` mode, what the model would have done. The decision is the case's status, "
        "squad and escalation reason, explained in its history.",
    )
    suggested_squad: str | None = Field(
        default=None,
        description="The squad the model suggests to Service Delivery (mode `suggest`).",
    )

    @property
    def state(self) -> CaseState:
        """The lifecycle state of the domain."""
        return CaseState(
            status=self.status,
            squad=self.squad,
            moved_away_from=frozenset(self.moved_away_from),
            escalation_reason=self.escalation_reason,
            ack_deadline=self.ack_deadline,
            predicted_squad=self.predicted_squad,
        )

    def with_state(self, state: CaseState, *, now: datetime) -> CaseRecord:
        """A copy carrying `state`."""
        return self.model_copy(
            update={
                "status": state.status,
                "squad": state.squad,
                "moved_away_from": sorted(state.moved_away_from),
                "escalation_reason": state.escalation_reason,
                "ack_deadline": state.ack_deadline,
                "updated_at": now,
            }
        )


class AutoAssignment(BaseModel):
    """An automatic assignment, watched for corrections (realised precision)."""

    case_id: UUID
    squad: str
    assigned_at: datetime
    target_precision: float | None = None
    corrected_at: datetime | None = None
    corrected_to: str | None = None


class SquadModeState(BaseModel):
    """A squad's mode as the precision watch and people set it (the policy's mode wins
    unless it is `auto`). `since` starts the squad's watch window: a restore starts afresh."""

    squad: str
    mode: ModelMode
    since: datetime | None = None
    reason: str
    changed_at: datetime
    changed_by: str


class SquadModeChange(BaseModel):
    """One change of a squad's mode: a demotion by the watch or a change by a person."""

    squad: str
    at: datetime
    from_mode: ModelMode
    to_mode: ModelMode
    by: str
    note: str | None = None


class HistoryAction(StrEnum):
    """Entries of the routing history."""

    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    SWARM_OPENED = "swarm_opened"
    SWARM_CLOSED = "swarm_closed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RETRIAGED = "retriaged"
    UNREACHABLE = "unreachable"
    """The case went to a squad the catalogue gives no channel (`to_squad`; `note` says
    why); Service Delivery is told instead, once per case and squad."""
    THROTTLED = "throttled"
    """Assignment messages of the case were not sent: it reached its notification limit
    (`note` names the squads not told)."""


ASSIGNING = frozenset({HistoryAction.ASSIGNED, HistoryAction.REASSIGNED})
"""History entries that give the case a squad."""


class HistoryEntry(BaseModel):
    """One step of a case's routing history."""

    case_id: UUID
    at: datetime
    action: HistoryAction
    from_squad: str | None = None
    to_squad: str | None = None
    by: str
    note: str | None = None
    reason: str | None = None


class DeliveryStatus(StrEnum):
    """Where a notification is in the durable delivery queue."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NotificationRecord(BaseModel):
    """One message to one squad on one channel (a row of the delivery queue)."""

    id: UUID
    case_id: UUID
    squad: str
    channel: str
    address: str = Field(repr=False)
    secret_env: str | None = None
    kind: str
    event_key: str
    payload: dict[str, Any]
    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class NotificationView(BaseModel):
    """A notification as the API shows it (no address: webhook URLs are credentials)."""

    id: UUID
    squad: str
    channel: str
    kind: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, rec: NotificationRecord) -> NotificationView:
        """The safe view of a record."""
        return cls.model_validate(rec.model_dump(exclude={"address", "payload", "secret_env"}))


class SwarmStatus(StrEnum):
    """Open or closed."""

    OPEN = "open"
    CLOSED = "closed"


class SwarmMember(BaseModel):
    """A squad in a swarm."""

    squad: str
    joined_at: datetime
    invited_by: str


class SwarmNoteRecord(BaseModel):
    """A note left in a swarm."""

    author: str
    text: str
    at: datetime


class SwarmRecord(BaseModel):
    """A swarm with its members and notes."""

    id: UUID
    case_id: UUID
    status: SwarmStatus
    reason: EscalationReason
    owner_squad: str | None = None
    outcome: str | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    members: list[SwarmMember] = Field(default_factory=list)
    notes: list[SwarmNoteRecord] = Field(default_factory=list)


class CaseDetail(BaseModel):
    """Everything about one case: text, prediction, history, notifications, swarm."""

    case: CaseRecord
    history: list[HistoryEntry]
    notifications: list[NotificationView]
    swarm: SwarmRecord | None = None


class SwarmPage(BaseModel):
    """A page of swarms, newest first."""

    items: list[SwarmRecord]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class CasePage(BaseModel):
    """A page of the queue."""

    items: list[CaseRecord]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class CaseFilter(BaseModel):
    """Filters of the queue."""

    status: list[LifecycleStatus] = Field(default_factory=list)
    squad: str | None = None
    reason: EscalationReason | None = None
    priority: Priority | None = None
    received_before: datetime | None = None
