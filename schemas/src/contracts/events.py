"""Event payloads (the CloudEvents `data`), named in the past tense.

| CloudEvents type              | topic                       | payload          |
|-------------------------------|-----------------------------|------------------|
| support.case.received.v1      | support.case.received.v1    | CaseSubmission   |
| support.case.triaged.v1       | support.case.triaged.v1     | CaseTriaged      |
| support.case.assigned.v1      | support.case.lifecycle.v1   | CaseAssigned     |
| support.case.escalated.v1     | support.case.lifecycle.v1   | CaseEscalated    |
| support.case.reassigned.v1    | support.case.lifecycle.v1   | CaseReassigned   |
| support.case.acknowledged.v1  | support.case.lifecycle.v1   | CaseAcknowledged |
| support.case.resolved.v1      | support.case.lifecycle.v1   | CaseResolved     |
| support.swarm.opened.v1       | support.case.lifecycle.v1   | SwarmOpened      |
| support.swarm.closed.v1       | support.case.lifecycle.v1   | SwarmClosed      |

Every event is keyed by its case id, so all events of one case keep their order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from contracts import topics
from contracts.cases import CaseSubmission, Recommendation, TriageResult


class EscalationReason(StrEnum):
    """Why a case went to Service Delivery.

    Reasons are added within v1 (`suggest_mode` and `rules_only` came with the model's
    modes): a reader meeting a reason it does not know should take it as an escalation for a
    reason it cannot name, not refuse the event.
    """

    UNOWNED = "unowned"
    LOW_CONFIDENCE = "low_confidence"
    CROSS_SQUAD = "cross_squad"
    MAJOR_INCIDENT = "major_incident"
    ACK_TIMEOUT = "ack_timeout"
    MANUAL = "manual"
    REASSIGNED_LOOP = "reassigned_loop"
    """The prediction is a squad a person already moved the case away from."""
    SUGGEST_MODE = "suggest_mode"
    """The predicted squad is in `suggest` mode (by the policy, or demoted because its
    realised precision fell): a person confirms the model's suggestion."""
    RULES_ONLY = "rules_only"
    """The predicted squad is in `shadow` or `off` mode: the model does not route its cases."""


class CaseTriaged(BaseModel):
    """A case was received and classified."""

    case_id: UUID
    received_at: datetime
    triaged_at: datetime
    case: CaseSubmission
    result: TriageResult


class CaseAssigned(BaseModel):
    """A case was assigned to a squad (automatically or by a person)."""

    case_id: UUID
    squad: str
    assigned_at: datetime
    by: str = Field(description="`router` for automatic routing, else the person.")
    confidence: float | None = None
    note: str | None = None
    ack_deadline: datetime | None = None


class CaseEscalated(BaseModel):
    """A case went to Service Delivery."""

    case_id: UUID
    reason: EscalationReason
    squads: list[str] = Field(default_factory=list, description="Squads involved, if any.")
    escalated_at: datetime
    detail: str | None = None
    suggestion: Recommendation | None = Field(
        default=None,
        description="The model's recommendation, attached when the squad's mode is `suggest`.",
    )


class CaseReassigned(BaseModel):
    """A person moved a case to another squad: a correction, hence a training label."""

    case_id: UUID
    from_squad: str | None
    to_squad: str
    predicted_squad: str | None = Field(description="What triage had predicted.")
    by: str
    note: str | None = None
    reassigned_at: datetime


class CaseAcknowledged(BaseModel):
    """The owning squad acknowledged a case."""

    case_id: UUID
    squad: str
    by: str
    acknowledged_at: datetime


class CaseResolved(BaseModel):
    """A case was resolved."""

    case_id: UUID
    squad: str | None
    by: str
    resolution: str | None = None
    resolved_at: datetime


class SwarmOpened(BaseModel):
    """Service Delivery opened a swarm with the squads involved."""

    swarm_id: UUID
    case_id: UUID
    squads: list[str]
    reason: EscalationReason
    opened_at: datetime


class SwarmClosed(BaseModel):
    """A swarm closed: one squad took ownership or the case was resolved."""

    swarm_id: UUID
    case_id: UUID
    owner_squad: str | None
    outcome: str
    closed_at: datetime


#: CloudEvents type -> payload model, for every event the project publishes.
EVENT_TYPES: dict[str, type[BaseModel]] = {
    topics.CASE_RECEIVED: CaseSubmission,
    topics.CASE_TRIAGED: CaseTriaged,
    topics.CASE_ASSIGNED: CaseAssigned,
    topics.CASE_ESCALATED: CaseEscalated,
    topics.CASE_REASSIGNED: CaseReassigned,
    topics.CASE_ACKNOWLEDGED: CaseAcknowledged,
    topics.CASE_RESOLVED: CaseResolved,
    topics.SWARM_OPENED: SwarmOpened,
    topics.SWARM_CLOSED: SwarmClosed,
}
