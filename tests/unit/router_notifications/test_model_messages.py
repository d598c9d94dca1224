"""The messages of the model's modes on every channel: a suggestion to Service Delivery, and
the announcement that a squad's automatic assignment is paused."""

from __future__ import annotations

import json
from collections.abc import Callable

from router.adapters.notifications import CHANNELS
from router.adapters.notifications.channels.email import email_message
from router.domain.notifications import Notification

DETAIL = "realised precision 0.60 (2 of 5 automatic assignments corrected), target 0.90"


def _rendered(n: Notification) -> dict[str, str]:
    """What each channel would send, as text."""
    out = {c.name: json.dumps(c.render(n)) for c in CHANNELS if c.name != "email"}
    mail = email_message(n, sender="a@example.com", recipient="b@example.com")
    out["email"] = mail.as_string()
    return out


def test_a_demotion_says_which_squad_and_why_on_every_channel(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(kind="model_demoted", reason=None, about_squad="payments", detail=DETAIL)
    assert n.headline == "Automatic assignment paused for payments"
    assert n.prediction_text == f"payments takes suggestions only: {DETAIL}"
    assert f"Why: {DETAIL}" in n.lines()
    rendered = _rendered(n)
    for name, text in rendered.items():
        assert "realised precision 0.60" in text, name
        if name != "webhook":  # the webhook carries the fields, not the wording
            assert "Automatic assignment paused for payments" in text, name
    body = json.loads(rendered["webhook"])
    assert (body["kind"], body["about_squad"]) == ("model_demoted", "payments")


def test_a_suggestion_names_the_suggested_squad(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification(reason="suggest_mode", suggested_squad="payments", confidence=0.93)
    assert "Suggested squad: payments (93%)" in n.lines()
    assert "confirm the suggested squad" in (n.reason_text or "")
    plain = make_notification()
    assert not any(line.startswith("Suggested squad") for line in plain.lines())
