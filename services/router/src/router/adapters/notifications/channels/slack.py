"""Slack: a squad's incoming webhook (annotation `support-triage/slack-webhook`) receives a
Block Kit message (header, a section with priority/squad/why/confidence/reason fields, a
context with the matched components, an actions block with a link button) and a plain `text`
fallback for notifications and old clients. Texts are cut to Block Kit's documented limits so
a long case title never makes the payload invalid.

Case text is the customer's: in every mrkdwn text, the fallback `text` included, `&`, `<` and
`>` are escaped (so `<!channel>` or `<https://evil|your bank>` reach readers as typed, never
as a mention or a disguised link), and the case's own section is `verbatim` (no automatic
links of channel names or addresses). The header is `plain_text`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.catalogue import Squad
from router.adapters.notifications.channels.base import HttpJsonChannel
from router.domain.notifications import Notification, Target

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks).
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_CONTEXT_MAX = 10
SLACK_BUTTON_TEXT_MAX = 75


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(n: Notification) -> dict[str, Any]:
    """Build a Slack incoming-webhook body with Block Kit blocks.

    Args:
        n: The notification.

    Returns:
        A JSON-ready dict with `text` (fallback) and `blocks`.
    """
    fields = [
        {"type": "mrkdwn", "text": f"*Priority*\n{n.priority}"},
        {"type": "mrkdwn", "text": f"*Squad*\n{_md(n.recipient)}"},
        {"type": "mrkdwn", "text": _cut(f"*Why*\n{_md(n.prediction_text)}", SLACK_FIELD_MAX)},
        {"type": "mrkdwn", "text": f"*Confidence*\n{n.confidence_text}"},
    ]
    if n.reason_text:
        fields.append(
            {"type": "mrkdwn", "text": _cut(f"*Reason*\n{_md(n.reason_text)}", SLACK_FIELD_MAX)}
        )
    if n.squads_involved:
        involved = ", ".join(n.squads_involved)
        fields.append(
            {"type": "mrkdwn", "text": _cut(f"*Squads involved*\n{_md(involved)}", SLACK_FIELD_MAX)}
        )
    summary = f"*{_md(n.title or '(no title)')}*"
    if n.description_excerpt:
        summary += f"\n{_md(n.description_excerpt)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(n.subject, SLACK_HEADER_MAX)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(summary, SLACK_TEXT_MAX), "verbatim": True},
            "fields": fields,
        },
    ]
    components = n.components_text
    if components:
        shown = components[: SLACK_CONTEXT_MAX - 1]
        elements = [{"type": "mrkdwn", "text": "*Matched components:*"}]
        elements += [{"type": "mrkdwn", "text": _cut(_md(c), SLACK_FIELD_MAX)} for c in shown]
        blocks.append({"type": "context", "elements": elements})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open case"},
                    "url": n.case_url,
                    "action_id": "open_case",
                    "value": str(n.case_id),
                    "style": "primary",
                }
            ],
        }
    )
    fallback = f"{_md(n.subject)} — {_md(n.prediction_text)}. {n.case_url}"
    return {"text": _cut(fallback, SLACK_TEXT_MAX), "blocks": blocks}


class SlackChannel(HttpJsonChannel):
    """Slack incoming webhooks."""

    name: ClassVar[str] = "slack"
    order: ClassVar[int] = 10

    def target(self, squad: Squad) -> Target | None:
        """The squad's Slack webhook URL."""
        url = squad.channels.slack_webhook
        return Target(self.name, url) if url else None

    def render(self, notification: Notification) -> dict[str, Any]:
        """The Block Kit message."""
        return slack_payload(notification)


CHANNEL = SlackChannel()
