"""Support cases as submitted, and the triage result attached to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
TAGS_MAX = 20

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Priority(StrEnum):
    """Business priority; P1 is a major incident."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class CaseSource(StrEnum):
    """Where a case came from."""

    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    MONITORING = "monitoring"
    CRM = "crm"
    API = "api"
    OTHER = "other"


class Decision(StrEnum):
    """What triage suggests doing with a case at its configured threshold."""

    ASSIGN = "assign"
    ESCALATE = "escalate"


class Reporter(BaseModel):
    """Who reported the case."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    email: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
            ),
        ]
        | None
    ) = None
    customer_id: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not (self.name or self.email or self.customer_id):
            raise ValueError("reporter needs at least one of name, email, customer_id")
        return self


#: A realistic case, used as the example in JSON Schema and the Swagger UI. It carries no
#: `external_ref`: that is an idempotency key, and an example must be executable again (with
#: an edited title, say) without a 409.
CASE_EXAMPLE: dict[str, Any] = {
    "title": "Checkout fails with payment declined for every card",
    "description": "Since 10:05 customers get 'payment declined' on checkout-api.",
    "reporter": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "source": "web",
    "priority": "P2",
    "tags": ["checkout"],
}


class CaseSubmission(BaseModel):
    """A support case as submitted over `POST /v1/cases` or `support.case.received.v1`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": CASE_EXAMPLE})

    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX)] = ""
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX)
    ] = ""
    reporter: Reporter
    source: CaseSource = CaseSource.WEB
    component: Name | None = Field(
        default=None, description="The reporter's hint of the affected component, if any."
    )
    priority: Priority = Priority.P3
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    external_ref: Name | None = Field(
        default=None,
        description="The id in the system the case came from; used for de-duplication.",
    )

    @model_validator(mode="after")
    def _has_text(self) -> Self:
        if not (self.title or self.description):
            raise ValueError("a case needs a title or a description")
        return self

    @property
    def text(self) -> str:
        """The text the classifier reads."""
        return f"{self.title}\n{self.description}" if self.title else self.description


class Candidate(BaseModel):
    """A squad the case may belong to, with its calibrated probability."""

    squad: str
    probability: float = Field(ge=0.0, le=1.0)


class MatchedComponent(BaseModel):
    """A catalogue component named or described in the case text."""

    component: str
    owner: str | None = Field(description="Owning squad; null for an unowned component.")
    evidence: list[str] = Field(
        default_factory=list, description="The terms of the case that matched it."
    )
    named: bool = Field(
        default=True,
        description="The case names the component (name, title, alias or the reporter's "
        "component hint). False when only its keywords matched: weak evidence that informs "
        "the prediction but is not taken as a claim of ownership.",
    )


class TriageResult(BaseModel):
    """The prediction for one case."""

    squad: str | None = Field(description="The predicted owning squad.")
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability of `squad`.")
    candidates: list[Candidate] = Field(description="Top squads, most likely first (up to 3).")
    matched_components: list[MatchedComponent] = Field(default_factory=list)
    spans_squads: bool = Field(
        description="Matched components of different owners, or two close candidates."
    )
    decision: Decision = Field(description="`assign` or `escalate` at the service's threshold.")
    reasons: list[str] = Field(
        default_factory=list,
        description="Why triage suggests escalation: unowned, low_confidence, cross_squad.",
    )
    model_version: str


class CaseStatus(StrEnum):
    """Status of a case in triage."""

    TRIAGED = "triaged"


class Case(BaseModel):
    """A stored case with its triage result, as answered by the triage API."""

    id: UUID
    received_at: datetime
    status: CaseStatus = CaseStatus.TRIAGED
    submission: CaseSubmission
    triage: TriageResult
