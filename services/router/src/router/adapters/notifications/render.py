"""Render a `Notification` for each channel.

- `slack_payload`: a Slack incoming-webhook body with Block Kit blocks (header, a section with
  priority/confidence/reason fields, a context with the matched components, an actions block
  with a link button) and a plain `text` fallback for notifications and old clients.
- `teams_payload`: the Microsoft Teams Workflows webhook body: a `message` whose attachment is
  an Adaptive Card 1.4 with an `Action.OpenUrl` button.
- `webhook_body`: the notification as JSON with `type` and `version` (generic receivers).
- `email_message`: an `email.message.EmailMessage` with a plain-text and an HTML part.

Texts are cut to each platform's documented limits so a long case title never makes the
payload invalid.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from router.adapters.notifications.model import Notification

WEBHOOK_TYPE = "support-triage.notification"
WEBHOOK_VERSION = 1

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
            "text": {"type": "mrkdwn", "text": _cut(summary, SLACK_TEXT_MAX)},
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
    fallback = f"{n.subject} — {n.prediction_text}. {n.case_url}"
    return {"text": _cut(fallback, SLACK_TEXT_MAX), "blocks": blocks}


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
        {
            "type": "TextBlock",
            "text": n.subject,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
        },
        {"type": "TextBlock", "text": n.title or "(no title)", "wrap": True},
    ]
    if n.description_excerpt:
        body.append(
            {"type": "TextBlock", "text": n.description_excerpt, "wrap": True, "isSubtle": True}
        )
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


def webhook_body(n: Notification) -> dict[str, Any]:
    """Build the generic webhook body: the notification's fields plus `type` and `version`.

    Args:
        n: The notification.

    Returns:
        A JSON-ready dict; `id` is the idempotency key, `kind` says what happened.
    """
    return {"type": WEBHOOK_TYPE, "version": WEBHOOK_VERSION, **n.model_dump(mode="json")}


def _html(n: Notification) -> str:
    e = html.escape
    rows = [
        ("Squad", f"{n.recipient} ({n.squad})"),
        ("Priority", str(n.priority)),
        ("Why", n.prediction_text),
    ]
    if n.reason_text:
        rows.append(("Reason", n.reason_text))
    if n.components_text:
        rows.append(("Matched components", ", ".join(n.components_text)))
    if n.squads_involved:
        rows.append(("Squads involved", ", ".join(n.squads_involved)))
    table = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(k)}</th><td>{e(v)}</td></tr>'
        for k, v in rows
    )
    excerpt = f"<p>{e(n.description_excerpt)}</p>" if n.description_excerpt else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<h2>{e(n.headline)}</h2>"
        f"<p><strong>{e(n.title or '(no title)')}</strong></p>{excerpt}"
        f"<table>{table}</table>"
        f'<p><a href="{e(n.case_url, quote=True)}">Open the case</a></p>'
        f'<p style="color:#888">Case id {e(str(n.case_id))}</p>'
        "</body></html>"
    )


def email_message(n: Notification, *, sender: str, recipient: str) -> EmailMessage:
    """Build the email: subject, plain text and an HTML alternative.

    Args:
        n: The notification.
        sender: The `From` address.
        recipient: The `To` address.

    Returns:
        A ready-to-send message; `X-Support-Triage-Delivery` carries the idempotency key.
    """
    msg = EmailMessage()
    msg["Subject"] = n.subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = make_msgid(idstring=str(n.id), domain="support-triage.local")
    msg["X-Support-Triage-Event"] = str(n.kind)
    msg["X-Support-Triage-Delivery"] = str(n.id)
    msg.set_content("\n".join(n.lines()) + "\n")
    msg.add_alternative(_html(n), subtype="html")
    return msg
