"""The channel modules and the reason texts: every channel is one module found by looking,
a new one needs nothing else, and every escalation reason has its words."""

from __future__ import annotations

import json
import pkgutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.catalogue import Channels, Squad
from contracts.events import EscalationReason
from router.adapters.notifications import CHANNELS, DeliveryError, Notifier, SmtpSettings
from router.adapters.notifications import channels as channels_package
from router.adapters.notifications.channels import discover
from router.domain.notifications import REASON_TEXT, Notification, Target, targets_for

SMTP = SmtpSettings(host="127.0.0.1", port=1, sender="triage@example.com")


@pytest.mark.parametrize("reason", list(EscalationReason))
def test_every_escalation_reason_has_its_words(reason: EscalationReason, make_notification) -> None:
    words = REASON_TEXT[reason]
    assert words and words != reason.value
    assert make_notification(reason=reason.value).reason_text == words


def test_no_two_reasons_read_the_same() -> None:
    assert len(set(REASON_TEXT.values())) == len(EscalationReason) == len(REASON_TEXT)


def test_each_channel_module_is_one_channel_named_after_it() -> None:
    modules = {
        info.name for info in pkgutil.iter_modules(channels_package.__path__) if info.name != "base"
    }
    assert {c.name for c in CHANNELS} == modules == {"slack", "teams", "webhook", "email"}
    assert [c.name for c in CHANNELS] == ["slack", "teams", "webhook", "email"]
    assert len({c.order for c in CHANNELS}) == len(CHANNELS)


PAGER = """
from typing import Any, ClassVar

from router.adapters.notifications.channels.base import HttpJsonChannel
from router.domain.notifications import Target


class PagerChannel(HttpJsonChannel):
    name: ClassVar[str] = "pager"
    order: ClassVar[int] = 5

    def target(self, squad):
        url = squad.channels.webhook_url
        return Target(self.name, url.replace("hooks", "pager")) if url else None

    def render(self, notification) -> dict[str, Any]:
        return {"summary": notification.subject, "severity": str(notification.priority)}


CHANNEL = PagerChannel()
"""


@pytest.fixture
def extra_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An importable package `extra_channels` with one new channel module."""
    folder = tmp_path / "extra_channels"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "pager.py").write_text(textwrap.dedent(PAGER))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    for name in [m for m in sys.modules if m.startswith("extra_channels")]:
        del sys.modules[name]


async def test_a_new_channel_module_is_found_targeted_and_delivered_with_nothing_else(
    extra_package: Path, notification: Notification
) -> None:
    (pager,) = discover("extra_channels", [str(extra_package)])
    in_service = tuple(sorted((*CHANNELS, pager), key=lambda c: c.order))
    squad = Squad(
        name="payments",
        title="Payments",
        channels=Channels(webhook_url="https://x.example/hooks/p", email="p@example.com"),
    )
    targets = targets_for(squad, in_service)
    assert [t.channel for t in targets] == ["pager", "webhook", "email"]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        notifier = Notifier(http=http, smtp=SMTP, environ={}, timeout=1.0, channels=in_service)
        await notifier.send(targets[0], notification)
    (request,) = seen
    assert str(request.url) == "https://x.example/pager/p"
    assert json.loads(request.content) == {"summary": notification.subject, "severity": "P2"}


def test_two_modules_with_one_channel_name_are_refused(extra_package: Path) -> None:
    (extra_package / "pager_again.py").write_text(textwrap.dedent(PAGER))
    with pytest.raises(RuntimeError, match="share a name"):
        discover("extra_channels", [str(extra_package)])


async def test_a_target_on_a_channel_not_in_service_fails_for_good(
    notification: Notification,
) -> None:
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http=http, smtp=SMTP, environ={})
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(Target("carrier-pigeon", "loft 7"), notification)
    assert caught.value.code == "invalid_target" and not caught.value.retryable
