"""Notification channels of the router: message rendering and senders.

- `model`: `Notification`, the channel-agnostic message, and its shared wording.
- `render`: Slack Block Kit, Teams Adaptive Card, generic webhook JSON and email.
- `delivery`: `Notifier.send(target, notification)`, one attempt, raising `DeliveryError`
  (the package's only exception, with a stable `code` and a `retryable` flag).
- `signing`: HMAC-SHA256 signatures of generic webhooks (the receiver's guide is there).
- `retry`: `backoff_delay`, exponential backoff with full jitter for the durable queue.
"""

from router.adapters.notifications.delivery import (
    Channel,
    DeliveryError,
    Notifier,
    SmtpSettings,
    Target,
    targets_for,
)
from router.adapters.notifications.model import Notification, NotificationKind, excerpt
from router.adapters.notifications.render import (
    email_message,
    slack_payload,
    teams_payload,
    webhook_body,
)
from router.adapters.notifications.retry import backoff_ceiling, backoff_delay
from router.adapters.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign,
    verify,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "Channel",
    "DeliveryError",
    "Notification",
    "NotificationKind",
    "Notifier",
    "SmtpSettings",
    "Target",
    "backoff_ceiling",
    "backoff_delay",
    "email_message",
    "excerpt",
    "sign",
    "slack_payload",
    "targets_for",
    "teams_payload",
    "verify",
    "webhook_body",
]
