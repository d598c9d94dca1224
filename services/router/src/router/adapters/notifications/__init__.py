"""Notification channels of the router: rendering and sending (the adapters side).

The channel-agnostic message (`Notification`), its wording and `targets_for` are pure and
live in `router.domain.notifications`.

- `channels`: one module per channel (`slack`, `teams`, `webhook`, `email`) with its
  rendering and sending; `channels.base` holds what they share and `DeliveryError`, the
  only exception of this package (stable `code`, `retryable` flag). Adding a channel is
  described there.
- `delivery`: `Notifier.send(target, notification)`, one attempt through the target's channel.
- `signing`: HMAC-SHA256 signatures of generic webhooks (the receiver's guide is there).
- `retry`: `backoff_delay`, exponential backoff with full jitter for the durable queue.
"""

from router.adapters.notifications.channels import CHANNELS
from router.adapters.notifications.channels.base import DeliveryError, SmtpSettings
from router.adapters.notifications.channels.email import email_message
from router.adapters.notifications.channels.slack import slack_payload
from router.adapters.notifications.channels.teams import teams_payload
from router.adapters.notifications.channels.webhook import webhook_body
from router.adapters.notifications.delivery import Notifier
from router.adapters.notifications.retry import backoff_ceiling, backoff_delay
from router.adapters.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign,
    verify,
)

__all__ = [
    "CHANNELS",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "DeliveryError",
    "Notifier",
    "SmtpSettings",
    "backoff_ceiling",
    "backoff_delay",
    "email_message",
    "sign",
    "slack_payload",
    "teams_payload",
    "verify",
    "webhook_body",
]
