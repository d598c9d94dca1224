"""Microsoft Teams: a squad's Workflows webhook (annotation `support-triage/teams-webhook`)
receives a `message` whose attachment is an Adaptive Card 1.4 with an `Action.OpenUrl`
button.

Teams renders markdown in a `TextBlock` (and in facts): a case titled
`[Reset your password](https://evil.example)` would show as a link. Text that comes from the
case (subject, title, description) therefore goes in `RichTextBlock`s of `TextRun`s, which
Adaptive Cards never read as markdown; facts carry only the router's own wording and catalogue
names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.catalogue import Squad
from router.adapters.notifications.channels.base import HttpJsonChannel
from router.domain.notifications import Notification, Target


def _plain(text: str, **style: Any) -> dict[str, Any]:
    """A block showing `text` as typed (a `TextRun` is never parsed as markdown)."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def adaptive_card(n: Notification) -> dict[str, Any]:
    """Build the Adaptive Card (schema 1.4) shown in Teams.

    Args:
        n: The notification.

    Returns:
        The card as a JSON-ready dict.
    """
    facts = [
        {"title": "Priority", "value": str(n.priority)},
        {"title": "Squad", "value": f"{n.recipient} ({n.squad})"},
        {"title": "Why", "value": n.prediction_text},
        {"title": "Confidence", "value": n.confidence_text},
    ]
    if n.reason_text:
        facts.append({"title": "Reason", "value": n.reason_text})
    if n.components_text:
        facts.append({"title": "Matched components", "value": ", ".join(n.components_text)})
    if n.squads_involved:
        facts.append({"title": "Squads involved", "value": ", ".join(n.squads_involved)})
    body: list[dict[str, Any]] = [
        _plain(n.subject, weight="Bolder", size="Medium"),
        _plain(n.title or "(no title)"),
    ]
    if n.description_excerpt:
        body.append(_plain(n.description_excerpt, isSubtle=True))
    body.append({"type": "FactSet", "facts": facts})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open case", "url": n.case_url}],
        "msteams": {"width": "Full"},
    }


def teams_payload(n: Notification) -> dict[str, Any]:
    """Build a Teams Workflows webhook body: a message with one Adaptive Card attachment.

    Args:
        n: The notification.

    Returns:
        A JSON-ready dict.
    """
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": adaptive_card(n),
            }
        ],
    }


class TeamsChannel(HttpJsonChannel):
    """Microsoft Teams Workflows webhooks."""

    name: ClassVar[str] = "teams"
    order: ClassVar[int] = 20

    def target(self, squad: Squad) -> Target | None:
        """The squad's Teams webhook URL."""
        url = squad.channels.teams_webhook
        return Target(self.name, url) if url else None

    def render(self, notification: Notification) -> dict[str, Any]:
        """The Workflows message with the card."""
        return teams_payload(notification)


CHANNEL = TeamsChannel()
