"""What every channel module builds on: the base classes, the one delivery error, and the
HTTP and SMTP plumbing the channels share.

`BaseChannel` is one notification channel: its `name` (stored on each queued notification),
its `order` among the channels, where a squad's address for it is in the catalogue
(`target`), how to show that address in logs (`display`) and how to make one delivery
attempt (`send`). `HttpJsonChannel` is a channel that POSTs one JSON document: it only
`render`s the notification (and may add `headers`). `Transport` carries what sending needs
(the shared HTTP client, the SMTP relay, the environment with webhook secrets, the timeout).

Every attempt either returns (delivered) or raises `DeliveryError`, with a stable `code` and
a `retryable` flag for the durable queue:

    DeliveryError
    ├── retryable:  timeout, connection_error, server_error (5xx), rate_limited (429),
    │               smtp_temporary (4xx reply), smtp_error
    └── permanent:  rejected (other 4xx), redirect (3xx), missing_secret, invalid_target,
                    forbidden_secret_env, invalid_message, smtp_rejected (5xx reply),
                    smtp_unsupported

Each attempt has a deadline, enforced per operation by the client library and over the whole
attempt. Error messages name only the scheme and host of a URL: Slack and Teams webhook paths
are credentials and must not reach logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from contracts.catalogue import Squad
from router.domain.notifications import Notification, Target

USER_AGENT = "support-triage-router/0.1"


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
    """How to reach the SMTP relay. `starttls` upgrades a plain connection (port 587) and
    fails when the relay does not offer it; `use_tls` is implicit TLS (port 465); `username`
    and `password` log in (AUTH) after the upgrade; `cafile` trusts a private CA."""

    host: str
    port: int
    sender: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0
    use_tls: bool = False
    cafile: str | None = None


@dataclass(frozen=True)
class Transport:
    """What a delivery attempt may use: the shared HTTP client (owned by the caller), the SMTP
    relay, where webhook secrets are looked up by name, and the HTTP deadline in seconds."""

    http: httpx.AsyncClient
    smtp: SmtpSettings
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    timeout: float = 5.0


def url_host(url: str) -> str:
    """The part of a URL that is safe to log: scheme and host (no path, no credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else "<url>"


class BaseChannel(ABC):
    """One notification channel (see the module docstring)."""

    name: ClassVar[str]
    order: ClassVar[int]

    @abstractmethod
    def target(self, squad: Squad) -> Target | None:
        """The squad's address on this channel, from the catalogue; None when it has none."""

    def display(self, target: Target) -> str:
        """The address safe to log (scheme and host of a URL)."""
        return url_host(target.address)

    @abstractmethod
    async def send(self, target: Target, notification: Notification, io: Transport) -> None:
        """Make one delivery attempt; raise `DeliveryError` when it fails."""


class HttpJsonChannel(BaseChannel):
    """A channel that POSTs one JSON document per notification."""

    @abstractmethod
    def render(self, notification: Notification) -> dict[str, Any]:
        """The JSON document to post."""

    def headers(
        self, target: Target, notification: Notification, body: bytes, io: Transport
    ) -> dict[str, str]:
        """Extra request headers (none by default)."""
        return {}

    async def send(self, target: Target, notification: Notification, io: Transport) -> None:
        """POST the rendered notification to the target's URL."""
        body = to_json(self.render(notification))
        extra = self.headers(target, notification, body, io)
        await post_json(io, target.address, body, extra, where=self.display(target))


def to_json(payload: object) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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


async def post_json(
    io: Transport, url: str, body: bytes, headers: Mapping[str, str], *, where: str
) -> None:
    """POST `body` as JSON within the deadline; any non-2xx answer is a `DeliveryError`."""
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        async with asyncio.timeout(io.timeout):
            response = await io.http.post(
                url,
                content=body,
                headers=all_headers,
                timeout=httpx.Timeout(io.timeout),
                follow_redirects=False,
            )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DeliveryError("invalid_target", f"{where}: {exc}", retryable=False) from exc
    except (httpx.TimeoutException, TimeoutError) as exc:
        msg = f"{where} did not answer within {io.timeout:g}s"
        raise DeliveryError("timeout", msg, retryable=True) from exc
    except httpx.TransportError as exc:
        msg = f"{where}: {type(exc).__name__}: {exc}"
        raise DeliveryError("connection_error", msg, retryable=True) from exc
    error = _classify(response, where)
    if error is not None:
        raise error
