"""Notifications sent for real to the local sink: HTTP hooks, Slack, Teams and SMTP.

No mocks: the dev sink runs a uvicorn HTTP server and an aiosmtpd SMTP server on free
loopback ports, the `Notifier` talks to them with a real `httpx.AsyncClient` and aiosmtplib,
and the test reads back what arrived through `GET /notifications`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from devkit.sink import SinkHandle, start_sink
from router.adapters.notifications import DeliveryError, Notifier, SmtpSettings, verify
from router.domain.notifications import Notification, Target

SECRET = "demo-secret"


@pytest.fixture(scope="module")
def sink() -> Iterator[SinkHandle]:
    with start_sink(0, 0, webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
async def notifier(sink: SinkHandle) -> AsyncIterator[Notifier]:
    sink.store.clear()
    sink.control.update({"fail_paths": {}, "hang_paths": [], "fail_rcpts": {}})
    smtp = SmtpSettings(host=sink.host, port=sink.smtp_port, sender="triage@example.com")
    async with httpx.AsyncClient() as http:
        yield Notifier(
            http=http, smtp=smtp, environ={"SUPPORT_TRIAGE_SECRET_HOOK": SECRET}, timeout=2.0
        )


def _notification(**overrides: Any) -> Notification:
    case_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "kind": "assigned",
        "case_id": case_id,
        "title": f"Checkout fails {case_id.hex[:6]}",
        "description_excerpt": "Customers get 'payment declined' on checkout-api since 10:05.",
        "priority": "P2",
        "squad": "payments",
        "squad_title": "Payments",
        "predicted_squad": "payments",
        "confidence": 0.91,
        "matched_components": [("checkout-api", "payments")],
        "case_url": f"http://127.0.0.1:8002/v1/cases/{case_id}",
    }
    fields.update(overrides)
    return Notification.model_validate(fields)


def _n() -> Notification:
    return _notification()


async def _listed(sink: SinkHandle, **params: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sink.http_url) as client:
        response = await client.get("/notifications", params=params)
    response.raise_for_status()
    return list(response.json()["notifications"])


async def test_every_channel_arrives(sink: SinkHandle, notifier: Notifier) -> None:
    n = _notification()
    base = sink.http_url
    await notifier.send(Target("slack", f"{base}/slack/payments"), n)
    await notifier.send(Target("teams", f"{base}/teams/payments"), n)
    await notifier.send(
        Target("webhook", f"{base}/hooks/payments", "SUPPORT_TRIAGE_SECRET_HOOK"), n
    )
    await notifier.send(Target("email", "payments@squads.example.com"), n)

    records = await _listed(sink, squad="payments")
    by_channel = {r["channel"]: r for r in records}
    assert sorted(by_channel) == ["email", "slack", "teams", "webhook"]
    for record in records:
        assert n.title in record["title"]

    slack = by_channel["slack"]["body"]
    assert slack["blocks"][-1]["elements"][0]["url"] == n.case_url
    card = by_channel["teams"]["body"]["attachments"][0]["content"]
    assert card["actions"][0]["url"] == n.case_url

    hook = by_channel["webhook"]
    assert hook["signature_valid"] is True
    header = hook["headers"]["x-support-triage-signature"]
    assert verify(hook["raw"].encode(), SECRET, header, now=int(time.time()))
    assert not verify(hook["raw"].encode(), "wrong", header, now=int(time.time()))
    assert hook["headers"]["x-support-triage-delivery"] == str(n.id)
    assert hook["headers"]["x-support-triage-event"] == "assigned"
    assert hook["body"]["case_id"] == str(n.case_id)

    mail = by_channel["email"]["body"]
    assert mail["rcpt_tos"] == ["payments@squads.example.com"]
    assert mail["mail_from"] == "triage@example.com"
    assert n.title in mail["subject"]
    assert n.case_url in mail["text"]
    assert "91%" in mail["text"]
    assert n.case_url in mail["html"]


async def test_wrong_secret_is_recorded_as_invalid(sink: SinkHandle) -> None:
    smtp = SmtpSettings(host=sink.host, port=sink.smtp_port, sender="t@example.com")
    async with httpx.AsyncClient() as http:
        notifier = Notifier(
            http=http, smtp=smtp, environ={"SUPPORT_TRIAGE_SECRET_S": "not-the-secret"}
        )
        await notifier.send(
            Target("webhook", f"{sink.http_url}/hooks/intruder", "SUPPORT_TRIAGE_SECRET_S"), _n()
        )
    (record,) = await _listed(sink, squad="intruder")
    assert record["signature_valid"] is False


async def test_listing_filters_orders_and_clears(sink: SinkHandle, notifier: Notifier) -> None:
    first, second = _notification(title="first one"), _notification(title="second one")
    await notifier.send(Target("slack", f"{sink.http_url}/slack/a"), first)
    await notifier.send(Target("slack", f"{sink.http_url}/slack/a"), second)
    await notifier.send(Target("slack", f"{sink.http_url}/slack/b"), first)
    titles = [r["title"] for r in await _listed(sink, squad="a")]
    assert len(titles) == 2
    assert "second one" in titles[0]
    assert "first one" in titles[1]
    assert len(await _listed(sink, limit=1)) == 1
    assert len(await _listed(sink)) == 3
    async with httpx.AsyncClient(base_url=sink.http_url) as client:
        assert (await client.delete("/notifications")).json() == {"deleted": 3}
    assert await _listed(sink) == []


async def test_a_hanging_endpoint_times_out_retryably(sink: SinkHandle) -> None:
    async with httpx.AsyncClient(base_url=sink.http_url) as client:
        await client.post("/control", json={"hang_paths": ["/hooks/stuck"]})
    smtp = SmtpSettings(host=sink.host, port=sink.smtp_port, sender="t@example.com")
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http=http, smtp=smtp, environ={}, timeout=0.5)
        with pytest.raises(DeliveryError) as info:
            await notifier.send(Target("webhook", f"{sink.http_url}/hooks/stuck"), _n())
    assert (info.value.code, info.value.retryable) == ("timeout", True)
    (record,) = await _listed(sink, squad="stuck")
    assert record["outcome"] == "hung"


@pytest.mark.parametrize(
    ("suffix", "code", "retryable"),
    [
        ("/slack/p?status=500", "server_error", True),
        ("/teams/p?status=503", "server_error", True),
        ("/hooks/p?status=404", "rejected", False),
        ("/nowhere/p", "rejected", False),
    ],
)
async def test_error_statuses_from_a_real_server(
    sink: SinkHandle, notifier: Notifier, suffix: str, code: str, retryable: bool
) -> None:
    with pytest.raises(DeliveryError) as info:
        await notifier.send(Target("webhook", sink.http_url + suffix), _n())
    assert (info.value.code, info.value.retryable) == (code, retryable)


async def test_a_fail_path_answers_500_and_rate_limits_carry_retry_after(
    sink: SinkHandle, notifier: Notifier
) -> None:
    sink.control.update({"fail_paths": ["/slack/down"]})
    with pytest.raises(DeliveryError) as down:
        await notifier.send(Target("slack", f"{sink.http_url}/slack/down"), _n())
    assert (down.value.code, down.value.retryable) == ("server_error", True)
    target = Target("slack", f"{sink.http_url}/slack/busy?status=429&retry_after=9")
    with pytest.raises(DeliveryError) as busy:
        await notifier.send(target, _n())
    assert (busy.value.code, busy.value.retryable, busy.value.retry_after) == (
        "rate_limited",
        True,
        9.0,
    )


@pytest.mark.parametrize(
    ("reply", "code", "retryable"), [(550, "smtp_rejected", False), (451, "smtp_temporary", True)]
)
async def test_smtp_refusals_are_classified(
    sink: SinkHandle, notifier: Notifier, reply: int, code: str, retryable: bool
) -> None:
    sink.control.update({"fail_rcpts": {"nobody@example.com": reply}})
    with pytest.raises(DeliveryError) as info:
        await notifier.send(Target("email", "nobody@example.com"), _n())
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert await _listed(sink, channel="email") == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_smtp_and_http_are_retryable() -> None:
    closed = _free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=closed, sender="t@example.com", timeout=2)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http=http, smtp=smtp, environ={}, timeout=2.0)
        for target in (
            Target("email", "a@example.com"),
            Target("slack", f"http://127.0.0.1:{closed}/slack/a"),
        ):
            with pytest.raises(DeliveryError) as info:
                await notifier.send(target, _n())
            assert (info.value.code, info.value.retryable) == ("connection_error", True)


def test_the_command_line_sink_receives_and_stops() -> None:
    http_port, smtp_port = _free_port(), _free_port()
    env = {**os.environ, "DEMO_WEBSUPPORT_TRIAGE_SECRET_HOOK": SECRET}
    cmd = [sys.executable, "-m", "devkit.sink", "--http-port", str(http_port)]
    cmd += ["--smtp-port", str(smtp_port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30  # a start-up wait on a busy machine, not a timing
        while True:
            try:
                httpx.get(f"{url}/notifications", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None, "sink exited early"
                assert time.monotonic() < deadline, "sink did not start"
                time.sleep(0.1)
        response = httpx.post(f"{url}/slack/demo", json={"text": "hello sink"}, timeout=2)
        assert response.text == "ok"
        listed = httpx.get(f"{url}/notifications", params={"squad": "demo"}, timeout=2).json()
        assert listed["notifications"][0]["title"] == "hello sink"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert b"notification for squad demo via slack: hello sink" in output
