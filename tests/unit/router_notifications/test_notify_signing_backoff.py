"""Webhook signatures, retry backoff and the targets configured in the catalogue."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import random
import statistics
import textwrap
import time

import pytest

from contracts.catalogue import Channels, Squad
from router.adapters.notifications import (
    CHANNELS,
    backoff_ceiling,
    backoff_delay,
    sign,
    verify,
)
from router.adapters.notifications.channels import slack
from router.domain.notifications import Target, targets_for

BODY = b'{"kind":"assigned","title":"Checkout fails"}'
SECRET = "s3cret"
T = 1_790_000_000


def test_signature_matches_the_documented_recipe() -> None:
    header = sign(BODY, SECRET, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"


def test_verify_accepts_its_own_signature() -> None:
    assert verify(BODY, SECRET, sign(BODY, SECRET, T), now=T)
    assert verify(BODY, SECRET, sign(BODY, SECRET, T), now=T + 300)
    assert verify(BODY, SECRET, sign(BODY, SECRET, T), now=T - 300)


def test_verify_rejects_a_tampered_body() -> None:
    header = sign(BODY, SECRET, T)
    assert not verify(BODY.replace(b"assigned", b"escalated"), SECRET, header, now=T)


def test_verify_rejects_a_wrong_secret() -> None:
    assert not verify(BODY, "other", sign(BODY, SECRET, T), now=T)


def test_verify_rejects_an_expired_or_future_timestamp() -> None:
    header = sign(BODY, SECRET, T)
    assert not verify(BODY, SECRET, header, now=T + 301)
    assert not verify(BODY, SECRET, header, now=T - 301)
    assert verify(BODY, SECRET, header, now=T + 3600, tolerance=3600)


def test_verify_rejects_a_moved_timestamp() -> None:
    sig = sign(BODY, SECRET, T).split(",v1=")[1]
    assert not verify(BODY, SECRET, f"t={T + 1},v1={sig}", now=T)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", f"t={T}", "v1=00"])
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify(BODY, SECRET, header, now=T)


def test_verify_accepts_any_of_several_signatures_during_rotation() -> None:
    new = sign(BODY, "new-secret", T).split(",v1=")[1]
    header = f"t={T},v1={'0' * 64},v1={new}"
    assert verify(BODY, "new-secret", header, now=T)
    assert not verify(BODY, SECRET, header, now=T)


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 10, 100, 10_000])
def test_backoff_stays_within_zero_and_the_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(300.0, 2.0 * 2 ** min(attempt, 60))
    for _ in range(200):
        assert 0.0 <= backoff_delay(attempt, rng=rng) <= ceiling


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    ceilings = [backoff_ceiling(a, base=1.0, cap=60.0) for a in range(10)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]


def test_backoff_grows_on_average_and_is_jittered() -> None:
    rng = random.Random(7)
    means = [statistics.fmean(backoff_delay(a, rng=rng) for _ in range(2000)) for a in range(6)]
    assert all(later > earlier for earlier, later in itertools.pairwise(means))
    # Full jitter: the mean sits near half the ceiling (2 * 2**a / 2), not at the ceiling.
    assert means[3] == pytest.approx(8.0, rel=0.1)
    samples = {backoff_delay(3, rng=rng) for _ in range(20)}
    assert len(samples) == 20


def test_backoff_rejects_a_negative_attempt() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1)


def test_targets_for_lists_every_configured_channel_in_order() -> None:
    squad = Squad(
        name="payments",
        title="Payments",
        channels=Channels(
            slack_webhook="https://hooks.slack.com/services/T/B/x",
            teams_webhook="https://prod.westeurope.logic.azure.com/workflows/1",
            webhook_url="https://payments.example.com/hooks",
            webhook_secret_env="SUPPORT_TRIAGE_SECRET_PAYMENTS",
            email="payments@example.com",
        ),
    )
    assert targets_for(squad, CHANNELS) == [
        Target("slack", "https://hooks.slack.com/services/T/B/x"),
        Target("teams", "https://prod.westeurope.logic.azure.com/workflows/1"),
        Target("webhook", "https://payments.example.com/hooks", "SUPPORT_TRIAGE_SECRET_PAYMENTS"),
        Target("email", "payments@example.com"),
    ]


def test_targets_for_a_squad_without_channels_is_empty() -> None:
    assert targets_for(Squad(name="quiet", title="Quiet"), CHANNELS) == []
    only_mail = Squad(name="m", title="M", channels=Channels(email="m@example.com"))
    assert targets_for(only_mail, CHANNELS) == [Target("email", "m@example.com")]


def test_target_repr_and_display_hide_webhook_paths() -> None:
    target = Target("slack", "https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    assert "XXXXSECRET" not in repr(target)
    assert slack.CHANNEL.display(target) == "https://hooks.slack.com"


def test_the_receiver_recipe_in_the_docs_verifies_real_signatures() -> None:
    from router.adapters.notifications import signing

    doc = signing.__doc__ or ""
    start = doc.index("    import hashlib, hmac, time")
    end = doc.index("Deliveries are retried")
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(doc[start:end]), namespace)
    receiver_verify = namespace["verify"]
    assert callable(receiver_verify)
    now = int(time.time())
    assert receiver_verify(BODY, SECRET, sign(BODY, SECRET, now))
    assert not receiver_verify(BODY + b" ", SECRET, sign(BODY, SECRET, now))
    assert not receiver_verify(BODY, SECRET, sign(BODY, SECRET, now - 3600))
