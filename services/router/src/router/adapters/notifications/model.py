"""The channel-agnostic notification and the wording every channel shares.

A `Notification` says what the case is, why it went to this squad (prediction, confidence,
matched components, escalation reason) and where to act on it. Renderers in
`router.adapters.notifications.render` turn it into Slack, Teams, webhook and email messages;
the sentences they share are built here once so every channel says the same thing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.cases import MatchedComponent, Priority
from contracts.ids import new_id

EXCERPT_MAX = 280


class NotificationKind(StrEnum):
    """What happened to the case."""

    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    SWARM_OPENED = "swarm_opened"
    ACK_TIMEOUT = "ack_timeout"
    REASSIGNED = "reassigned"


REASON_TEXT = {
    "unowned": "no squad owns the matched component",
    "low_confidence": "the prediction's confidence is below the routing threshold",
    "cross_squad": "the case spans several squads",
    "major_incident": "P1 major incident",
    "ack_timeout": "the assigned squad did not acknowledge it in time",
    "manual": "escalated by a person",
}


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """Shorten `text` to at most `limit` characters on a word boundary, with an ellipsis.

    Args:
        text: The full text (whitespace runs are collapsed).
        limit: Maximum length of the result, ellipsis included.

    Returns:
        The text itself when short enough, else its start followed by "…".
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


class Notification(BaseModel):
    """One message to one squad about one case; `id` is the idempotency key."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(default_factory=new_id, description="Idempotency key of the delivery.")
    kind: NotificationKind
    case_id: UUID
    title: str
    description_excerpt: str = ""
    priority: Priority = Priority.P3
    squad: str = Field(description="The recipient squad's name.")
    squad_title: str = ""
    predicted_squad: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    matched_components: list[MatchedComponent] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Escalation reason, if escalated.")
    squads_involved: list[str] = Field(default_factory=list)
    case_url: str = Field(description="Where the recipient acts on the case.")
    swarm_id: UUID | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("matched_components", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        """Accept `(component, owner)` pairs as well as `MatchedComponent` objects."""
        if isinstance(value, list):
            return [
                {"component": v[0], "owner": v[1]} if isinstance(v, tuple | list) else v
                for v in value
            ]
        return value

    # --- shared wording ----------------------------------------------------------------

    @property
    def recipient(self) -> str:
        """The squad's display name."""
        return self.squad_title or self.squad

    @property
    def headline(self) -> str:
        """One line saying what happened, e.g. `Assigned to Payments`."""
        match self.kind:
            case NotificationKind.ASSIGNED:
                return f"New case for {self.recipient}"
            case NotificationKind.ESCALATED:
                return "Escalated to Service Delivery"
            case NotificationKind.SWARM_OPENED:
                return "Swarm opened"
            case NotificationKind.ACK_TIMEOUT:
                return "Not acknowledged in time"
            case NotificationKind.REASSIGNED:
                return f"Reassigned to {self.recipient}"
        return str(self.kind)  # pragma: no cover - the match is exhaustive

    @property
    def subject(self) -> str:
        """A subject line: priority, headline and case title."""
        return f"[{self.priority}] {self.headline}: {self.title or '(no title)'}"

    @property
    def confidence_text(self) -> str:
        """`87%`, or `n/a` when there is no prediction."""
        return "n/a" if self.confidence is None else f"{self.confidence:.0%}"

    @property
    def reason_text(self) -> str | None:
        """The escalation reason in words, or None."""
        if self.reason is None:
            return None
        return REASON_TEXT.get(self.reason, self.reason)

    @property
    def prediction_text(self) -> str:
        """Why this squad: the prediction and its confidence."""
        if self.predicted_squad is None:
            return "No squad predicted"
        return f"Predicted {self.predicted_squad} with {self.confidence_text} confidence"

    @property
    def components_text(self) -> list[str]:
        """Each matched component with its owner, e.g. `checkout-api (owner: payments)`."""
        return [f"{m.component} (owner: {m.owner or 'none'})" for m in self.matched_components]

    def lines(self) -> list[str]:
        """The message as plain-text lines (email body, fallback text)."""
        out = [self.headline, "", f"Case: {self.title or '(no title)'}"]
        if self.description_excerpt:
            out.append(self.description_excerpt)
        out += [
            "",
            f"Squad: {self.recipient} ({self.squad})",
            f"Priority: {self.priority}",
            f"Why: {self.prediction_text}",
        ]
        if self.reason_text:
            out.append(f"Reason: {self.reason_text}")
        if self.components_text:
            out.append("Matched components: " + ", ".join(self.components_text))
        if self.squads_involved:
            out.append("Squads involved: " + ", ".join(self.squads_involved))
        out += ["", f"Open the case: {self.case_url}", f"Case id: {self.case_id}"]
        return out
