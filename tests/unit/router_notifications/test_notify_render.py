"""Rendering of notifications for Slack, Teams, generic webhooks and email."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from router.adapters.notifications import (
    email_message,
    slack_payload,
    teams_payload,
    webhook_body,
)
from router.adapters.notifications.channels.base import to_json
from router.domain.notifications import Notification, excerpt

# Keys Block Kit accepts on the objects we use (api.slack.com/reference/block-kit).
BLOCK_KEYS = {
    "header": {"type", "text", "block_id"},
    "section": {"type", "text", "fields", "accessory", "block_id", "expand"},
    "context": {"type", "elements", "block_id"},
    "actions": {"type", "elements", "block_id"},
}
TEXT_KEYS = {"type", "text", "emoji", "verbatim"}
BUTTON_KEYS = {"type", "text", "action_id", "url", "value", "style", "confirm"}


def _check_text(obj: dict[str, Any], *, kinds: set[str], limit: int) -> None:
    assert set(obj) <= TEXT_KEYS
    assert obj["type"] in kinds
    assert isinstance(obj["text"], str)
    assert 0 < len(obj["text"]) <= limit


def _check_block_kit(payload: dict[str, Any]) -> None:
    assert isinstance(payload["text"], str) and payload["text"]
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        kind = block["type"]
        assert kind in BLOCK_KEYS, kind
        assert set(block) <= BLOCK_KEYS[kind], (kind, set(block) - BLOCK_KEYS[kind])
        if kind == "header":
            _check_text(block["text"], kinds={"plain_text"}, limit=150)
        elif kind == "section":
            _check_text(block["text"], kinds={"plain_text", "mrkdwn"}, limit=3000)
            assert len(block.get("fields", [])) <= 10
            for f in block.get("fields", []):
                _check_text(f, kinds={"plain_text", "mrkdwn"}, limit=2000)
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for e in block["elements"]:
                _check_text(e, kinds={"plain_text", "mrkdwn"}, limit=2000)
        else:
            assert 0 < len(block["elements"]) <= 25
            for e in block["elements"]:
                assert set(e) <= BUTTON_KEYS
                assert e["type"] == "button"
                _check_text(e["text"], kinds={"plain_text"}, limit=75)
                assert len(e["url"]) <= 3000
                assert e.get("style", "primary") in {"primary", "danger"}


def test_slack_payload_is_valid_block_kit(notification: Notification) -> None:
    payload = slack_payload(notification)
    _check_block_kit(payload)
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context", "actions"]
    button = payload["blocks"][-1]["elements"][0]
    assert button["url"] == notification.case_url


def test_slack_fields_say_priority_confidence_and_reason(notification: Notification) -> None:
    section = slack_payload(notification)["blocks"][1]
    fields = " ".join(f["text"] for f in section["fields"])
    assert "P2" in fields
    assert "42%" in fields
    assert "below the routing threshold" in fields  # low_confidence in words


def test_slack_context_lists_components_with_owners(notification: Notification) -> None:
    context = slack_payload(notification)["blocks"][2]
    text = " ".join(e["text"] for e in context["elements"])
    assert "checkout-api (owner: payments)" in text
    assert "card-vault (owner: none)" in text


def test_slack_without_components_or_reason_drops_those_parts(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(kind="assigned", reason=None, matched_components=[], squads_involved=[])
    payload = slack_payload(n)
    _check_block_kit(payload)
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "actions"]
    assert "Reason" not in json.dumps(payload)


def test_slack_long_texts_stay_within_limits(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(
        title="x" * 300,
        description_excerpt="y " * 2000,
        matched_components=[(f"component-{i}", "payments") for i in range(30)],
    )
    _check_block_kit(slack_payload(n))


def test_slack_escapes_mrkdwn_control_characters(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(title="<!channel> & <http://evil|click>")
    section = slack_payload(n)["blocks"][1]["text"]["text"]
    assert "<!channel>" not in section
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in section


def test_teams_payload_is_a_message_with_an_adaptive_card(notification: Notification) -> None:
    payload = teams_payload(notification)
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["type"] == "RichTextBlock"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open case", "url": notification.case_url}
    ]
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Confidence"] == "42%"
    assert "checkout-api (owner: payments)" in facts["Matched components"]


def test_webhook_body_round_trips_the_notification(notification: Notification) -> None:
    body = json.loads(json.dumps(webhook_body(notification)))
    assert body["type"] == "support-triage.notification"
    assert body["version"] == 1
    assert body["id"] == str(notification.id)
    assert body["kind"] == "escalated"
    fields = {k: v for k, v in body.items() if k not in ("type", "version")}
    assert Notification.model_validate(fields) == notification


def _parsed_email(n: Notification) -> email.message.EmailMessage:
    msg = email_message(n, sender="triage@example.com", recipient="sd@example.com")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_email_has_subject_text_and_html(notification: Notification) -> None:
    parsed = _parsed_email(notification)
    assert notification.title in parsed["Subject"]
    assert parsed["From"] == "triage@example.com"
    assert parsed["To"] == "sd@example.com"
    assert parsed["X-Support-Triage-Delivery"] == str(notification.id)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "Service Delivery" in part
        assert "42%" in part
        assert "checkout-api (owner: payments)" in part
    assert notification.case_url in text
    assert f'href="{notification.case_url}"' in html


def test_email_html_escapes_case_text(make_notification: Callable[..., Notification]) -> None:
    parsed = _parsed_email(make_notification(title="<script>alert(1)</script>"))
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("render", ["slack", "teams", "webhook", "email"])
def test_every_channel_says_title_squad_confidence_and_link(
    render: str, notification: Notification
) -> None:
    if render == "email":
        parsed = _parsed_email(notification)
        text = "\n".join(
            [str(parsed["Subject"])]
            + [p.get_content() for p in parsed.iter_parts()]  # decoded text and HTML
        )
    else:
        fn = {"slack": slack_payload, "teams": teams_payload, "webhook": webhook_body}[render]
        text = json.dumps(fn(notification), ensure_ascii=False)
    assert notification.title in text
    assert "Service Delivery" in text or "service-delivery" in text
    assert "payments" in text  # the predicted squad: why it went where it went
    assert ("42%" in text) or ("0.42" in text)
    assert notification.case_url in text


def test_matched_components_accept_pairs_and_objects(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(
        matched_components=[("a", "x"), {"component": "b", "owner": None, "evidence": ["b"]}]
    )
    assert [(m.component, m.owner) for m in n.matched_components] == [("a", "x"), ("b", None)]


def test_confidence_outside_zero_one_is_rejected(
    make_notification: Callable[..., Notification],
) -> None:
    with pytest.raises(ValidationError):
        make_notification(confidence=1.5)


def test_no_prediction_is_said_plainly(make_notification: Callable[..., Notification]) -> None:
    n = make_notification(predicted_squad=None, confidence=None, reason="unowned")
    text = json.dumps(slack_payload(n))
    assert "No squad predicted" in text
    assert "n/a" in text


def test_excerpt_cuts_on_a_word_boundary() -> None:
    text = "word " * 100
    short = excerpt(text, limit=50)
    assert len(short) <= 50
    assert short.endswith("…")
    assert short[:-1].split() == ["word"] * len(short[:-1].split())
    assert excerpt("  two\n\nlines  ") == "two lines"


@pytest.mark.parametrize("render", ["slack", "teams", "webhook", "email"])
def test_every_channel_names_the_unreachable_squad_and_the_problem(
    render: str, make_notification: Callable[..., Notification]
) -> None:
    n = make_notification(
        kind="unreachable_squad",
        reason=None,
        unreachable_squad="quiet",
        catalogue_problem="quiet has no notification channel (org.yaml, group:default/quiet)",
    )
    if render == "email":
        parsed = _parsed_email(n)
        text = "\n".join([str(parsed["Subject"])] + [p.get_content() for p in parsed.iter_parts()])
    else:
        fn = {"slack": slack_payload, "teams": teams_payload, "webhook": webhook_body}[render]
        text = json.dumps(fn(n), ensure_ascii=False)
    if render == "webhook":  # fields, not wording: the receiver's code reads them
        body = webhook_body(n)
        assert (body["kind"], body["unreachable_squad"]) == ("unreachable_squad", "quiet")
    else:
        assert "Assigned to quiet, which nobody can notify" in text
    assert "quiet has no notification channel (org.yaml, group:default/quiet)" in text
    assert n.case_url in text


HOSTILE_TITLE = "<!channel> [Reset password](https://evil.example) <https://evil|bank> & *x*"


def test_slack_fallback_text_escapes_mentions_and_links(
    make_notification: Callable[..., Notification],
) -> None:
    payload = slack_payload(make_notification(title=HOSTILE_TITLE))
    texts = [payload["text"]] + [
        obj["text"]
        for block in payload["blocks"]
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        if isinstance(obj, dict) and obj.get("type") == "mrkdwn"
    ]
    for text in texts:
        assert "<!" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in payload["text"]
    assert payload["blocks"][1]["text"]["verbatim"] is True


def _card_texts(card: dict[str, Any]) -> list[tuple[str, str]]:
    """Every text of the card with the element type that holds it."""
    out: list[tuple[str, str]] = []
    for block in card["body"]:
        if block["type"] == "TextBlock":
            out.append(("TextBlock", block["text"]))
        elif block["type"] == "RichTextBlock":
            out += [(run["type"], run["text"]) for run in block["inlines"]]
        elif block["type"] == "FactSet":
            out += [("Fact", f["value"]) for f in block["facts"]]
    return out


def test_teams_never_reads_case_text_as_markdown(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(title=HOSTILE_TITLE, description_excerpt="[click](https://evil.example)")
    texts = _card_texts(teams_payload(n)["attachments"][0]["content"])
    holding_case_text = {kind for kind, text in texts if "evil.example" in text}
    assert holding_case_text == {"TextRun"}  # never a markdown TextBlock or fact
    assert any(text == HOSTILE_TITLE for _, text in texts)


@pytest.mark.parametrize("title", ["a\r\nBcc: all@example.com", "a\nb", "a\u2028b", "a\x00b"])
def test_email_subject_of_a_stored_title_with_line_breaks_is_one_line(
    make_notification: Callable[..., Notification], title: str
) -> None:
    parsed = _parsed_email(make_notification(title=title))
    assert parsed["Bcc"] is None
    subject = str(parsed["Subject"])
    assert "\n" not in subject and "\r" not in subject and "\u2028" not in subject
    assert subject.endswith("a b") or subject.endswith("a Bcc: all@example.com")


def test_webhook_body_carries_case_text_as_json_data(
    make_notification: Callable[..., Notification],
) -> None:
    title = 'quote " backslash \\ brace } <tag> ' + HOSTILE_TITLE
    body = to_json(webhook_body(make_notification(title=title)))
    assert json.loads(body)["title"] == title
