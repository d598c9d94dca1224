"""Notifications as the router's domain sees them: what happened, to whom, on which channels.

- `Notification`: one channel-agnostic message to one squad about one case, with the wording
  every channel shares (headline, subject, why, reason in words), so all channels say the
  same thing. `REASON_TEXT` words every `EscalationReason`.
- `Target`: one address of a squad on one channel (a webhook URL, an email address).
- `Channel`: what routing needs to know of a channel -- its name and where a squad's address
  for it is in the catalogue. The channels themselves (rendering and sending) are adapters,
  one module each in `router.adapters.notifications.channels`; the service is given them.
- `targets_for(squad, channels)`: the squad's targets, one per channel it configured.

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.cases import MatchedComponent, Priority
from contracts.catalogue import Squad
from contracts.events import EscalationReason
from contracts.ids import new_id
from contracts.text import single_line

EXCERPT_MAX = 280


class NotificationKind(StrEnum):
    """What happened to the case."""

    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    SWARM_OPENED = "swarm_opened"
    ACK_TIMEOUT = "ack_timeout"
    REASSIGNED = "reassigned"
    UNREACHABLE_SQUAD = "unreachable_squad"
    MODEL_DEMOTED = "model_demoted"
    """To Service Delivery: a squad's realised precision fell; it now takes suggestions."""


REASON_TEXT: dict[EscalationReason, str] = {
    EscalationReason.UNOWNED: "no squad owns the matched component",
    EscalationReason.LOW_CONFIDENCE: "the prediction's confidence is below the routing threshold",
    EscalationReason.CROSS_SQUAD: "the case spans several squads",
    EscalationReason.MAJOR_INCIDENT: "P1 major incident",
    EscalationReason.ACK_TIMEOUT: "the assigned squad did not acknowledge it in time",
    EscalationReason.MANUAL: "escalated by a person",
    EscalationReason.REASSIGNED_LOOP: "a person already moved the case away from the predicted "
    "squad",
    EscalationReason.SUGGEST_MODE: "the squad takes model suggestions only: confirm the "
    "suggested squad",
    EscalationReason.RULES_ONLY: "the model does not route this squad's cases (shadow or off)",
}
"""Every escalation reason in words (a test checks that no reason is missing)."""


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
    reason: EscalationReason | None = Field(
        default=None, description="Escalation reason, if escalated."
    )
    squads_involved: list[str] = Field(default_factory=list)
    case_url: str = Field(description="Where the recipient acts on the case.")
    swarm_id: UUID | None = None
    unreachable_squad: str | None = Field(
        default=None,
        description="For `unreachable_squad`: the squad the case was assigned to (or, with "
        "`swarm_id`, invited to that swarm), which the catalogue gives no channel.",
    )
    catalogue_problem: str | None = Field(
        default=None, description="For `unreachable_squad`: the catalogue problem, in words."
    )
    suggested_squad: str | None = Field(
        default=None, description="The model's suggestion (squad in `suggest` mode)."
    )
    about_squad: str | None = Field(
        default=None, description="The squad a `model_demoted` message is about."
    )
    detail: str | None = Field(default=None, description="The figures of `model_demoted`.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("title", "description_excerpt", "squad_title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        """One line without control characters, whatever the stored case holds (cases are
        cleaned at intake; this also covers rows stored before that)."""
        return single_line(value)

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
            case NotificationKind.UNREACHABLE_SQUAD if self.swarm_id is not None:
                return f"Swarm invites {self.unreachable_squad}, which nobody can notify"
            case NotificationKind.UNREACHABLE_SQUAD:
                return f"Assigned to {self.unreachable_squad}, which nobody can notify"
            case NotificationKind.MODEL_DEMOTED:
                return f"Automatic assignment paused for {self.about_squad}"
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
        """The escalation reason (or the catalogue problem) in words, or None."""
        if self.catalogue_problem is not None:
            return self.catalogue_problem
        return None if self.reason is None else REASON_TEXT[self.reason]

    @property
    def prediction_text(self) -> str:
        """Why this squad: the prediction and its confidence (for `model_demoted`: why the
        squad now takes suggestions only)."""
        if self.kind is NotificationKind.MODEL_DEMOTED:
            return f"{self.about_squad} takes suggestions only: {self.detail}"
        if self.predicted_squad is None:
            return "No squad predicted"
        return f"Predicted {self.predicted_squad} with {self.confidence_text} confidence"

    @property
    def components_text(self) -> list[str]:
        """Each matched component with its owner, e.g. `checkout-api (owner: payments)`."""
        return [f"{m.component} (owner: {m.owner or 'none'})" for m in self.matched_components]

    def lines(self) -> list[str]:
        """The message as plain-text lines (email body, fallback text)."""
        if self.kind is NotificationKind.MODEL_DEMOTED:
            return [
                self.headline,
                "",
                f"{self.about_squad} now takes suggestions only: its cases come to Service "
                "Delivery with the model's suggestion until a person restores automatic "
                "assignment.",
                f"Why: {self.detail}",
                "",
                f"Latest case: {self.title or '(no title)'}",
                f"Open the case: {self.case_url}",
                f"Case id: {self.case_id}",
            ]
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
        if self.suggested_squad:
            out.append(f"Suggested squad: {self.suggested_squad} ({self.confidence_text})")
        if self.components_text:
            out.append("Matched components: " + ", ".join(self.components_text))
        if self.squads_involved:
            out.append("Squads involved: " + ", ".join(self.squads_involved))
        out += ["", f"Open the case: {self.case_url}", f"Case id: {self.case_id}"]
        return out


@dataclass(frozen=True, slots=True)
class Target:
    """Where one notification goes: a channel's name and the squad's address on it (a URL,
    or an email address), with the environment variable holding a signing secret, if any.
    The address is left out of `repr`: webhook URLs are credentials."""

    channel: str
    address: str = field(repr=False)
    secret_env: str | None = None


class Channel(Protocol):
    """A notification channel as routing sees it."""

    @property
    def name(self) -> str:
        """The channel's stable name (stored on each queued notification)."""
        ...

    def target(self, squad: Squad) -> Target | None:
        """The squad's address on this channel, from the catalogue; None when it has none."""
        ...


def targets_for(squad: Squad, channels: Iterable[Channel]) -> list[Target]:
    """List the targets configured for a squad in the catalogue.

    Args:
        squad: A catalogue squad.
        channels: The channels in service, in their order.

    Returns:
        One target per channel the squad configured, in the channels' order.
    """
    return [t for t in (channel.target(squad) for channel in channels) if t is not None]
