"""Support cases as submitted, and the triage result attached to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from contracts.text import multi_line, single_line

TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
TAGS_MAX = 20

# Customer text: the length limits apply to the text as sent, then control characters are
# removed (contracts.text); what must not be empty is checked on the cleaned text.
OneLine = AfterValidator(single_line)
NotEmpty = StringConstraints(min_length=1)
Tag = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), OneLine, NotEmpty]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), OneLine, NotEmpty]


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
    """Assign a case to a squad or escalate it to Service Delivery.

    In a `TriageResult` it is the model's recommended action; the router's routing policy
    makes the decision the case carries.
    """

    ASSIGN = "assign"
    ESCALATE = "escalate"


class Reporter(BaseModel):
    """Who reported the case."""

    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), OneLine] | None
    ) = None
    email: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
            ),
        ]
        | None
    ) = None
    customer_id: Annotated[str, StringConstraints(max_length=200), OneLine] | None = None

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

    title: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX), OneLine
    ] = ""
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX),
        AfterValidator(multi_line),
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


class ThresholdSource(StrEnum):
    """Where the threshold of a recommendation comes from."""

    OWN = "own"
    """The squad's own threshold, from its out-of-fold cases, for the target precision."""
    GLOBAL = "global"
    """The threshold shared by the squads with too few out-of-fold cases of their own."""
    RARE = "rare"
    """A squad with too few history cases: a threshold only when the case names one of its
    components (the global one); otherwise none (never assigned from history alone)."""
    EXPLICIT = "explicit"
    """One explicit threshold for every squad (triage's `ASSIGN_THRESHOLD`)."""
    POLICY = "policy"
    """An explicit threshold of the router's routing policy, as the router applied it."""
    UNKNOWN = "unknown"
    """Not reported: a result from a triage before recommendations (`TriageResult.recommended`)."""


class Recommendation(BaseModel):
    """What the model recommends for a case. The router's routing policy decides.

    `threshold` is the confidence the model needs for `squad` to meet `target_precision` on
    its out-of-fold predictions (or the explicit one); `meets_threshold` says whether the
    case reaches it. `action` is `assign` when no reason speaks against assigning.
    """

    squad: str | None = Field(description="The squad the model recommends.")
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability of `squad`.")
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The model's threshold for `squad`; null: the model does not assign it "
        "on its own (a rare squad the case does not name) or the threshold is unknown.",
    )
    threshold_source: ThresholdSource = ThresholdSource.UNKNOWN
    target_precision: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The precision the model's thresholds were derived for.",
    )
    meets_threshold: bool = Field(description="`confidence` reaches `threshold`.")
    action: Decision = Field(description="The recommended action: `assign` or `escalate`.")
    reasons: list[str] = Field(
        default_factory=list,
        description="Why the model recommends escalation: unowned, low_confidence, cross_squad.",
    )


class TriageResult(BaseModel):
    """The prediction for one case, with the model's recommendation.

    `decision` and `reasons` are kept for readers written before `recommendation`: they are
    deprecated copies of `recommendation.action` and `recommendation.reasons`. They were never
    the case's decision: the router decides (`GET /v1/cases/{id}` of the router).
    """

    squad: str | None = Field(description="The predicted owning squad.")
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability of `squad`.")
    candidates: list[Candidate] = Field(description="Top squads, most likely first (up to 3).")
    matched_components: list[MatchedComponent] = Field(default_factory=list)
    spans_squads: bool = Field(
        description="Matched components of different owners, or two close candidates."
    )
    decision: Decision = Field(
        description="Deprecated: the same as `recommendation.action` (the model's "
        "recommendation, not the routing decision, which the router makes)."
    )
    reasons: list[str] = Field(
        default_factory=list,
        description="Deprecated: the same as `recommendation.reasons`.",
    )
    model_version: str
    recommendation: Recommendation | None = Field(
        default=None,
        description="The model's recommendation: squad, confidence, the squad's threshold "
        "for the target precision, whether it is met, and why not (null only from a triage "
        "before recommendations).",
    )

    def recommended(self) -> Recommendation:
        """The recommendation, or for a result without one the same read from the
        deprecated fields (threshold unknown)."""
        if self.recommendation is not None:
            return self.recommendation
        return Recommendation(
            squad=self.squad,
            confidence=self.confidence,
            meets_threshold="low_confidence" not in self.reasons,
            action=self.decision,
            reasons=list(self.reasons),
        )


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
