"""Send a notification to one target: `Notifier.send(target, notification)`.

It makes exactly one attempt through the target's channel (`channels`) and either returns
(delivered) or raises `DeliveryError` (see `channels.base` for its codes; a target on a
channel that is not in service is `invalid_target`, permanently). `send` keeps no state
between calls, so it is safe to call concurrently; the shared `httpx.AsyncClient` pools
connections.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import httpx

from router.adapters.notifications.channels import CHANNELS
from router.adapters.notifications.channels.base import (
    BaseChannel,
    DeliveryError,
    SmtpSettings,
    Transport,
)
from router.domain.notifications import Notification, Target

log = logging.getLogger(__name__)


class Notifier:
    """Delivers notifications over one shared HTTP client and an SMTP relay."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        smtp: SmtpSettings,
        environ: Mapping[str, str] = os.environ,
        timeout: float = 5.0,
        channels: Sequence[BaseChannel] = CHANNELS,
    ) -> None:
        """Keep the collaborators.

        Args:
            http: The shared client; the caller owns and closes it.
            smtp: SMTP relay settings.
            environ: Where webhook secrets are looked up by name.
            timeout: Deadline of one HTTP attempt, in seconds.
            channels: The channels in service.
        """
        self._io = Transport(http=http, smtp=smtp, environ=environ, timeout=timeout)
        self._channels = {c.name: c for c in channels}

    async def send(self, target: Target, notification: Notification) -> None:
        """Make one delivery attempt.

        Args:
            target: Where to send.
            notification: What to send.

        Raises:
            DeliveryError: The attempt failed; see `code` and `retryable`.
        """
        channel = self._channels.get(target.channel)
        if channel is None:
            msg = f"no channel {target.channel!r} in service"
            raise DeliveryError("invalid_target", msg, retryable=False)
        await channel.send(target, notification, self._io)
        where = channel.display(target)
        log.debug("delivered %s %s via %s", notification.kind, notification.id, where)
