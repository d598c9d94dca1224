"""Send a rendered notification to one target: Slack, Teams, generic webhook or email.

`Notifier.send(target, notification)` makes exactly one attempt and either returns (delivered)
or raises `DeliveryError`, the only exception of this package. Its `code` is stable and its
`retryable` flag tells the durable queue whether to try again later (see `backoff_delay`):

    DeliveryError
    ├── retryable:  timeout, connection_error, server_error (5xx), rate_limited (429),
    │               smtp_temporary (4xx reply), smtp_error
    └── permanent:  rejected (other 4xx), redirect (3xx), missing_secret, invalid_target,
                    smtp_rejected (5xx reply), smtp_unsupported

Every call has a deadline (`timeout` for HTTP, `SmtpSettings.timeout` for SMTP) enforced both
per operation by the client library and over the whole attempt. `send` keeps no state between
calls, so it is safe to call concurrently; the shared `httpx.AsyncClient` pools connections.
Error messages name only the scheme and host of a URL: Slack and Teams webhook paths are
credentials and must not reach logs.

A generic webhook target with `secret_env` is signed (see `signing`); when `secret_env` names a
variable that is unset or empty the delivery fails permanently with `missing_secret` rather
than going out unsigned. A target without `secret_env` is sent unsigned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from contracts.catalogue import Squad
from router.adapters.notifications import render
from router.adapters.notifications.model import Notification
from router.adapters.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign,
)

log = logging.getLogger(__name__)

USER_AGENT = "support-triage-router/0.1"


class Channel(StrEnum):
    """Kinds of notification target."""

    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class Target:
    """Where one notification goes. `address` is a URL, or an email address for EMAIL."""

    channel: Channel
    address: str = field(repr=False)
    secret_env: str | None = None

    @property
    def display(self) -> str:
        """The address safe to log: scheme and host of a URL, or the email address."""
        return self.address if self.channel is Channel.EMAIL else _where(self.address)


def targets_for(squad: Squad) -> list[Target]:
    """List the targets configured for a squad in the catalogue.

    Args:
        squad: A catalogue squad.

    Returns:
        One target per configured channel, in the order Slack, Teams, webhook, email.
    """
    ch = squad.channels
    out: list[Target] = []
    if ch.slack_webhook:
        out.append(Target(Channel.SLACK, ch.slack_webhook))
    if ch.teams_webhook:
        out.append(Target(Channel.TEAMS, ch.teams_webhook))
    if ch.webhook_url:
        out.append(Target(Channel.WEBHOOK, ch.webhook_url, ch.webhook_secret_env or None))
    if ch.email:
        out.append(Target(Channel.EMAIL, ch.email))
    return out


class DeliveryError(Exception):
    """One delivery attempt failed; `code` is stable, `retryable` says whether to retry."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP relay. `use_tls` is implicit TLS (port 465)."""

    host: str
    port: int
    sender: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0
    use_tls: bool = False


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else "<url>"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _classify(response: httpx.Response, where: str) -> DeliveryError | None:
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = f"{where} answered {status}"
    if status == 429:
        after = _retry_after(response.headers.get("retry-after"))
        return DeliveryError("rate_limited", detail, retryable=True, retry_after=after)
    if status == 408:
        return DeliveryError("timeout", detail, retryable=True)
    if status >= 500:
        return DeliveryError("server_error", detail, retryable=True)
    if 300 <= status < 400:
        return DeliveryError("redirect", detail, retryable=False)
    return DeliveryError("rejected", detail, retryable=False)


class Notifier:
    """Delivers notifications over one shared HTTP client and an SMTP relay."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        smtp: SmtpSettings,
        environ: Mapping[str, str] = os.environ,
        timeout: float = 5.0,
    ) -> None:
        """Keep the collaborators.

        Args:
            http: The shared client; the caller owns and closes it.
            smtp: SMTP relay settings.
            environ: Where webhook secrets are looked up by name.
            timeout: Deadline of one HTTP attempt, in seconds.
        """
        self._http = http
        self._smtp = smtp
        self._environ = environ
        self._timeout = timeout

    async def send(self, target: Target, notification: Notification) -> None:
        """Make one delivery attempt.

        Args:
            target: Where to send.
            notification: What to send.

        Raises:
            DeliveryError: The attempt failed; see `code` and `retryable`.
        """
        match target.channel:
            case Channel.SLACK:
                body = _json(render.slack_payload(notification))
                await self._post(target, body, {})
            case Channel.TEAMS:
                body = _json(render.teams_payload(notification))
                await self._post(target, body, {})
            case Channel.WEBHOOK:
                body = _json(render.webhook_body(notification))
                await self._post(target, body, self._webhook_headers(target, notification, body))
            case Channel.EMAIL:
                await self._mail(target, notification)
            case _:  # pragma: no cover - exhaustive over Channel
                raise DeliveryError("invalid_target", str(target.channel), retryable=False)
        log.debug("delivered %s %s via %s", notification.kind, notification.id, target.display)

    def _webhook_headers(self, target: Target, n: Notification, body: bytes) -> dict[str, str]:
        headers = {EVENT_HEADER: str(n.kind), DELIVERY_HEADER: str(n.id)}
        if target.secret_env is None:
            return headers
        secret = self._environ.get(target.secret_env)
        if not secret:
            raise DeliveryError(
                "missing_secret",
                f"environment variable {target.secret_env} is not set",
                retryable=False,
            )
        headers[SIGNATURE_HEADER] = sign(body, secret, int(time.time()))
        return headers

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> None:
        where = target.display
        all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(
                    target.address,
                    content=body,
                    headers=all_headers,
                    timeout=httpx.Timeout(self._timeout),
                    follow_redirects=False,
                )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise DeliveryError("invalid_target", f"{where}: {exc}", retryable=False) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            msg = f"{where} did not answer within {self._timeout:g}s"
            raise DeliveryError("timeout", msg, retryable=True) from exc
        except httpx.TransportError as exc:
            msg = f"{where}: {type(exc).__name__}: {exc}"
            raise DeliveryError("connection_error", msg, retryable=True) from exc
        error = _classify(response, where)
        if error is not None:
            raise error

    async def _mail(self, target: Target, n: Notification) -> None:
        s = self._smtp
        message = render.email_message(n, sender=s.sender, recipient=target.address)
        where = f"smtp://{s.host}:{s.port}"
        try:
            async with asyncio.timeout(s.timeout):
                await aiosmtplib.send(
                    message,
                    hostname=s.host,
                    port=s.port,
                    username=s.username,
                    password=s.password,
                    start_tls=s.starttls,
                    use_tls=s.use_tls,
                    timeout=s.timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            temporary = bool(codes) and all(400 <= c < 500 for c in codes)
            code = "smtp_temporary" if temporary else "smtp_rejected"
            msg = f"{where} refused {target.address}: {codes}"
            raise DeliveryError(code, msg, retryable=temporary) from exc
        except aiosmtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.code < 500
            code = "smtp_temporary" if temporary else "smtp_rejected"
            msg = f"{where} answered {exc.code} {exc.message}"
            raise DeliveryError(code, msg, retryable=temporary) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError("smtp_unsupported", f"{where}: {exc}", retryable=False) from exc
        except TimeoutError as exc:  # includes aiosmtplib.SMTPTimeoutError
            msg = f"{where} did not answer within {s.timeout:g}s"
            raise DeliveryError("timeout", msg, retryable=True) from exc
        except OSError as exc:  # refused, reset, disconnected (SMTPConnectError et al.)
            msg = f"{where}: {type(exc).__name__}: {exc}"
            raise DeliveryError("connection_error", msg, retryable=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError("smtp_error", f"{where}: {exc}", retryable=True) from exc


def _json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
