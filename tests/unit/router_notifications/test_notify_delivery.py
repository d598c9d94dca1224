"""`Notifier.send` over `httpx.MockTransport`: requests sent and errors classified."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from router.adapters.notifications import (
    DeliveryError,
    Notifier,
    SmtpSettings,
    slack_payload,
    teams_payload,
    verify,
)
from router.domain.notifications import Notification, Target

SMTP = SmtpSettings(host="127.0.0.1", port=1, sender="triage@example.com")
SLACK = Target("slack", "https://hooks.slack.com/services/T0/B0/SECRETPATH")
HOOK = Target("webhook", "https://receiver.example.com/hooks", "SUPPORT_TRIAGE_SECRET_HOOK")

Handler = Callable[[httpx.Request], httpx.Response]


def _notifier(handler: Handler, environ: dict[str, str] | None = None) -> Notifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Notifier(http=http, smtp=SMTP, environ=environ or {}, timeout=1.0)


async def _error(notifier: Notifier, target: Target, n: Notification) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        await notifier.send(target, n)
    return info.value


async def test_slack_posts_the_block_kit_json(notification: Notification) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    await _notifier(handler).send(SLACK, notification)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == SLACK.address
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == slack_payload(notification)


async def test_teams_posts_the_adaptive_card_message(notification: Notification) -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(202)

    await _notifier(handler).send(Target("teams", "https://t.example/wf"), notification)
    assert json.loads(seen[0]) == teams_payload(notification)


async def test_webhook_is_signed_with_the_named_secret(notification: Notification) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    await _notifier(handler, {"SUPPORT_TRIAGE_SECRET_HOOK": "k3y"}).send(HOOK, notification)
    (request,) = seen
    assert request.headers["x-support-triage-event"] == "escalated"
    assert request.headers["x-support-triage-delivery"] == str(notification.id)
    signature = request.headers["x-support-triage-signature"]
    assert verify(request.content, "k3y", signature, now=int(time.time()))
    assert not verify(request.content, "other", signature, now=int(time.time()))
    assert json.loads(request.content)["id"] == str(notification.id)


async def test_webhook_without_secret_env_goes_unsigned(notification: Notification) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    await _notifier(handler).send(Target("webhook", HOOK.address), notification)
    assert "x-support-triage-signature" not in seen[0].headers
    assert seen[0].headers["x-support-triage-delivery"] == str(notification.id)


@pytest.mark.parametrize("environ", [{}, {"SUPPORT_TRIAGE_SECRET_HOOK": ""}])
async def test_missing_secret_is_permanent_and_sends_nothing(
    environ: dict[str, str], notification: Notification
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    error = await _error(_notifier(handler, environ), HOOK, notification)
    assert (error.code, error.retryable) == ("missing_secret", False)
    assert "SUPPORT_TRIAGE_SECRET_HOOK" in str(error)
    assert calls == []


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, "server_error", True),
        (502, "server_error", True),
        (503, "server_error", True),
        (408, "timeout", True),
        (429, "rate_limited", True),
        (400, "rejected", False),
        (403, "rejected", False),
        (404, "rejected", False),
        (410, "rejected", False),
        (301, "redirect", False),
    ],
)
async def test_http_statuses_are_classified(
    status: int, code: str, retryable: bool, notification: Notification
) -> None:
    notifier = _notifier(lambda _: httpx.Response(status, text="no"))
    error = await _error(notifier, SLACK, notification)
    assert (error.code, error.retryable) == (code, retryable)
    assert str(status) in str(error)
    assert "SECRETPATH" not in str(error)  # webhook paths are credentials


async def test_rate_limit_carries_retry_after(notification: Notification) -> None:
    notifier = _notifier(lambda _: httpx.Response(429, headers={"Retry-After": "7"}))
    error = await _error(notifier, SLACK, notification)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection_error"),
        (httpx.RemoteProtocolError("reset"), "connection_error"),
    ],
)
async def test_transport_failures_are_retryable(
    exc: Exception, code: str, notification: Notification
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    error = await _error(_notifier(handler), SLACK, notification)
    assert (error.code, error.retryable) == (code, True)
    assert "SECRETPATH" not in str(error)


async def test_a_handler_slower_than_the_deadline_times_out(notification: Notification) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    notifier = Notifier(http=http, smtp=SMTP, environ={}, timeout=0.2)
    error = await _error(notifier, SLACK, notification)
    assert (error.code, error.retryable) == ("timeout", True)


async def test_an_unsupported_url_is_permanent(notification: Notification) -> None:
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http=http, smtp=SMTP, environ={}, timeout=1.0)
        error = await _error(notifier, Target("slack", "ftp://x.example/y"), notification)
    assert (error.code, error.retryable) == ("invalid_target", False)


async def test_concurrent_sends_each_deliver_once(
    make_notification: Callable[..., Notification],
) -> None:
    received: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        received.append(request.headers["x-support-triage-delivery"])
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    notifier = Notifier(
        http=http, smtp=SMTP, environ={"SUPPORT_TRIAGE_SECRET_HOOK": "k"}, timeout=2.0
    )
    batch = [make_notification() for _ in range(25)]
    await asyncio.gather(*(notifier.send(HOOK, n) for n in batch))
    assert sorted(received) == sorted(str(n.id) for n in batch)


async def test_a_secret_outside_the_prefix_never_keys_a_signature(
    notification: Notification,
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    target = Target("webhook", HOOK.address, "DATABASE_URL")
    notifier = _notifier(handler, {"DATABASE_URL": "postgresql://user:password@db/prod"})
    error = await _error(notifier, target, notification)
    assert (error.code, error.retryable) == ("forbidden_secret_env", False)
    assert calls == []
