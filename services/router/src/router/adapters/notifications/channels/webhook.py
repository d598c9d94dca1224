"""Generic webhooks: a squad's URL (annotation `support-triage/webhook-url`) receives the
notification as JSON with `type` and `version`, signed with HMAC-SHA256 when the squad names
a secret (`support-triage/webhook-secret-env`; see `router.adapters.notifications.signing`).

A target whose `secret_env` names a variable that is unset or empty fails permanently with
`missing_secret` rather than going out unsigned; one whose variable is not named
`SUPPORT_TRIAGE_SECRET_*` (the catalogue refuses those; this guards rows queued before) fails
permanently with `forbidden_secret_env`, so no other variable ever keys an HMAC sent to a URL
the catalogue chose. A target without `secret_env` is sent unsigned.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from contracts.catalogue import SECRET_ENV_PREFIX, Squad
from router.adapters.notifications.channels.base import DeliveryError, HttpJsonChannel, Transport
from router.adapters.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign,
)
from router.domain.notifications import Notification, Target

WEBHOOK_TYPE = "support-triage.notification"
WEBHOOK_VERSION = 1


def webhook_body(n: Notification) -> dict[str, Any]:
    """Build the generic webhook body: the notification's fields plus `type` and `version`.

    Args:
        n: The notification.

    Returns:
        A JSON-ready dict; `id` is the idempotency key, `kind` says what happened.
    """
    return {"type": WEBHOOK_TYPE, "version": WEBHOOK_VERSION, **n.model_dump(mode="json")}


class WebhookChannel(HttpJsonChannel):
    """Generic JSON webhooks, signed when the squad has a secret."""

    name: ClassVar[str] = "webhook"
    order: ClassVar[int] = 30

    def target(self, squad: Squad) -> Target | None:
        """The squad's webhook URL and the variable holding its secret."""
        ch = squad.channels
        return (
            Target(self.name, ch.webhook_url, ch.webhook_secret_env or None)
            if ch.webhook_url
            else None
        )

    def render(self, notification: Notification) -> dict[str, Any]:
        """The notification as JSON."""
        return webhook_body(notification)

    def headers(
        self, target: Target, notification: Notification, body: bytes, io: Transport
    ) -> dict[str, str]:
        """The kind, the idempotency key and, with a secret, the signature."""
        headers = {EVENT_HEADER: str(notification.kind), DELIVERY_HEADER: str(notification.id)}
        if target.secret_env is None:
            return headers
        if not target.secret_env.startswith(SECRET_ENV_PREFIX):
            raise DeliveryError(
                "forbidden_secret_env",
                f"{target.secret_env} is not a webhook secret (names start with "
                f"{SECRET_ENV_PREFIX})",
                retryable=False,
            )
        secret = io.environ.get(target.secret_env)
        if not secret:
            raise DeliveryError(
                "missing_secret",
                f"environment variable {target.secret_env} is not set",
                retryable=False,
            )
        headers[SIGNATURE_HEADER] = sign(body, secret, int(time.time()))
        return headers


CHANNEL = WebhookChannel()
