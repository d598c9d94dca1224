"""Durable delivery: sent, retried with backoff, failed after the last attempt, and a blocked
squad does not hold up others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from router.adapters.db.delivery_queue import LEASE_EXPIRED
from router.adapters.notifications import DeliveryError
from router.records import DeliveryStatus
from router.workers import DeliveryWorker


def _worker(c, sender, **kw):
    kw.setdefault("backoff", lambda attempt: 10.0 * (attempt + 1))
    kw.setdefault("max_attempts", 3)
    return DeliveryWorker(store=c.store, sender=sender, clock=c.clock, **kw)


def _route(container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    return triaged.case_id


async def test_due_notifications_are_sent_once(container, sender, make_triaged):
    case_id = _route(container, make_triaged)
    worker = _worker(container, sender)

    assert await worker.run_once() == 2
    assert await worker.run_once() == 0

    rows = container.store.notifications_for(case_id)
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    assert all(r.attempts == 1 and r.sent_at == container.clock.now() for r in rows)
    assert sorted(t.channel for t, _ in sender.sent) == ["email", "webhook"]
    assert {n.case_id for _, n in sender.sent} == {case_id}


async def test_retryable_errors_back_off_then_fail_after_max_attempts(
    container, sender, make_triaged, clock
):
    case_id = _route(container, make_triaged)
    sender.fail["payments"] = [
        DeliveryError("server_error", "500", retryable=True) for _ in range(10)
    ]
    worker = _worker(container, sender)

    await worker.run_once()
    rows = container.store.notifications_for(case_id)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.QUEUED, 1)}
    assert {r.next_attempt_at for r in rows} == {clock.now() + timedelta(seconds=10)}
    assert await worker.run_once() == 0  # not due yet

    clock.advance(timedelta(seconds=10))
    assert await worker.run_once() == 2
    rows = container.store.notifications_for(case_id)
    assert {r.next_attempt_at for r in rows} == {clock.now() + timedelta(seconds=20)}

    clock.advance(timedelta(seconds=20))
    await worker.run_once()
    rows = container.store.notifications_for(case_id)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.FAILED, 3)}
    assert all("server_error" in (r.last_error or "") for r in rows)
    assert container.store.count_failed_notifications() == 2
    assert sender.sent == []


async def test_permanent_error_fails_at_once_and_retry_after_is_honoured(
    container, sender, make_triaged, clock
):
    case_id = _route(container, make_triaged)
    sender.fail["payments"] = [
        DeliveryError("rejected", "404", retryable=False),
        DeliveryError("rate_limited", "429", retryable=True, retry_after=42.0),
    ]
    await _worker(container, sender, concurrency=1).run_once()
    await _worker(container, sender, concurrency=1).run_once()

    rows = {r.status: r for r in container.store.notifications_for(case_id)}
    assert rows[DeliveryStatus.FAILED].attempts == 1
    assert rows[DeliveryStatus.QUEUED].next_attempt_at == clock.now() + timedelta(seconds=42)


async def test_claims_never_overlap(container, make_triaged, clock):
    for _ in range(5):
        _route(container, make_triaged)
    lease = timedelta(minutes=2)
    first = container.store.claim_notifications(clock.now(), limit=6, lease=lease)
    second = container.store.claim_notifications(clock.now(), limit=100, lease=lease)
    assert len(first) == 6 and len(second) == 4
    assert not {r.id for r in first} & {r.id for r in second}
    clock.advance(lease)  # a crashed worker's claims come back after the lease
    assert len(container.store.claim_notifications(clock.now(), limit=100, lease=lease)) == 10


async def test_a_blocked_squad_does_not_hold_up_another_squads_delivery(
    container, sender, make_triaged
):
    slow = make_triaged(squad="checkout", components=[("checkout-api", "checkout")])
    container.route([slow])
    sender.block["checkout"] = asyncio.Event()
    worker = _worker(container, sender, poll_interval=0.05, concurrency=4)
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while not worker._inflight:
                await asyncio.sleep(0.01)
        fast = _route(container, make_triaged)  # payments, queued after checkout
        worker.wake()
        async with asyncio.timeout(10):
            while len(sender.sent) < 2:
                await asyncio.sleep(0.01)
        assert {n.case_id for _, n in sender.sent} == {fast}
        assert not sender.block["checkout"].is_set()
    finally:
        sender.block["checkout"].set()
        worker.stop()
        await task
    assert any(n.squad == "checkout" for _, n in sender.sent)


async def test_a_late_outcome_after_the_lease_does_not_overwrite_a_newer_one(
    container, make_triaged, clock
):
    from router.ports import DeliveryOutcome

    _route(container, make_triaged)
    lease = timedelta(minutes=2)
    (stale, *_) = container.store.claim_notifications(clock.now(), limit=1, lease=lease)
    clock.advance(lease)  # the first worker stalls past its lease; another one takes over
    (fresh,) = [
        r
        for r in container.store.claim_notifications(clock.now(), limit=100, lease=lease)
        if r.id == stale.id
    ]
    assert fresh.attempts == stale.attempts + 1  # each claim counts its attempt
    container.store.finish_notifications(
        [DeliveryOutcome(fresh.id, DeliveryStatus.SENT, fresh.attempts, sent_at=clock.now())]
    )
    container.store.finish_notifications(  # the stalled worker finally reports a failure
        [DeliveryOutcome(stale.id, DeliveryStatus.FAILED, stale.attempts, last_error="timeout")]
    )
    (row,) = [r for r in container.store.notifications_for(stale.case_id) if r.id == stale.id]
    assert row.status == DeliveryStatus.SENT
    assert row.last_error is None


async def test_a_claim_counts_the_attempt_so_a_crashing_send_ends_failed(
    container, sender, make_triaged, clock
):
    case_id = _route(container, make_triaged)
    lease = timedelta(minutes=2)
    for attempt in (1, 2, 3):  # every claim's process dies before it records an outcome
        claimed = container.store.claim_notifications(clock.now(), limit=100, lease=lease)
        assert {r.attempts for r in claimed} == {attempt}
        clock.advance(lease)

    assert await _worker(container, sender, max_attempts=3).run_once() == 2
    rows = container.store.notifications_for(case_id)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.FAILED, 3)}
    assert all(r.last_error for r in rows)
    assert sender.sent == []  # the poison rows are not sent a fourth time
    assert container.store.claim_notifications(clock.now(), limit=100, lease=lease) == []


async def test_a_row_sent_after_a_timeout_or_an_expired_lease_says_so(
    container, sender, make_triaged, clock
):
    """Either may have reached the receiver: the row sent on the next attempt keeps why, so
    an operator can tell a notification the receiver may have twice (same delivery id)."""
    case_id = _route(container, make_triaged)
    sender.fail["payments"] = [DeliveryError("timeout", "did not answer", retryable=True)] * 2
    await _worker(container, sender).run_once()  # both channels time out
    clock.advance(timedelta(seconds=10))
    await _worker(container, sender).run_once()  # sent on the second attempt
    rows = container.store.notifications_for(case_id)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.SENT, 2)}
    assert all((r.last_error or "").startswith("timeout") for r in rows)

    other = _route(container, make_triaged)
    lease = timedelta(minutes=2)
    container.store.claim_notifications(clock.now(), limit=100, lease=lease)  # then dies
    clock.advance(lease)
    await _worker(container, sender).run_once()
    rows = container.store.notifications_for(other)
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {
        (DeliveryStatus.SENT, 2, LEASE_EXPIRED)
    }


async def test_a_receivers_retry_after_is_capped(container, sender, make_triaged, clock):
    case_id = _route(container, make_triaged)
    sender.fail["payments"] = [
        DeliveryError("rate_limited", "429", retryable=True, retry_after=float("inf")),
        DeliveryError("rate_limited", "429", retryable=True, retry_after=10.0**9),
    ]
    await _worker(container, sender, concurrency=1, max_retry_after=60.0).run_once()
    await _worker(container, sender, concurrency=1, max_retry_after=60.0).run_once()

    rows = container.store.notifications_for(case_id)
    queued = [r for r in rows if r.status is DeliveryStatus.QUEUED]
    assert len(queued) == 2
    assert {r.next_attempt_at for r in queued} == {clock.now() + timedelta(seconds=60)}


async def test_a_hanging_receiver_holds_at_most_its_cap_of_slots(container, sender, make_triaged):
    for _ in range(6):  # notifications to checkout's receivers, none of which answers
        container.route([make_triaged(squad="checkout", components=[("checkout-api", "checkout")])])
    sender.block["checkout"] = asyncio.Event()
    worker = _worker(container, sender, poll_interval=0.05, concurrency=6, per_receiver=2)
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while len(worker._inflight) < 2:
                await asyncio.sleep(0.01)
        assert max(worker._receivers.values()) <= 2
        fast = _route(container, make_triaged)  # payments, queued after checkout's
        worker.wake()
        async with asyncio.timeout(10):
            while len(sender.sent) < 2:
                await asyncio.sleep(0.01)
        assert {n.case_id for _, n in sender.sent} == {fast}
        assert max(worker._receivers.values()) <= 2
    finally:
        sender.block["checkout"].set()
        worker.stop()
        await task
    while await worker.run_once():  # the receiver answers again: the rest follow
        pass
    checkout = [t.address for t, n in sender.sent if n.squad == "checkout"]
    assert len(checkout) == 6 * len(set(checkout))  # every case's notifications, once


async def test_a_claim_takes_at_most_the_cap_per_receiver_and_skips_busy_ones(
    container, make_triaged, clock
):
    for _ in range(3):
        _route(container, make_triaged)  # payments: one webhook and one email each
    lease = timedelta(minutes=2)
    rows = container.store.claim_notifications(clock.now(), limit=100, lease=lease, per_receiver=1)
    assert len(rows) == 2 and len({r.address for r in rows}) == 2
    webhook = next(r.address for r in rows if r.channel == "webhook")
    rows = container.store.claim_notifications(
        clock.now(), limit=100, lease=lease, per_receiver=5, busy=[webhook]
    )
    assert {r.channel for r in rows} == {"email"} and len(rows) == 2
    rows = container.store.claim_notifications(clock.now(), limit=100, lease=lease)
    assert {r.address for r in rows} == {webhook} and len(rows) == 2
