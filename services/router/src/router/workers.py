"""Background loops of the router: durable notification delivery and the ack-timeout sweeper.

`DeliveryWorker` claims due notifications from the database in one statement (a claim token
plus a lease, so a crashed worker's claims come back after the lease and two workers never
send the same row at once), sends each in its own task under a concurrency bound, and records
the outcome: `sent`; `queued` again with `backoff_delay` (or the receiver's Retry-After,
capped at `max_retry_after` seconds so a receiver cannot park a notification for days) for
a retryable error; `failed` for a permanent one or after `max_attempts`. The claim itself
counts the attempt, so a send whose process dies still counts: a row claimed once more after
its last attempt never reported back is marked `failed` without being sent. Outcomes are not
written one by one: finished attempts wait in memory and the loop records all of them in one
transaction before its next claim, so no transaction is ever open while a message is being
sent. A slow or dead webhook only holds its own slots, for at most the notifier's timeout
each, and one receiver (address) never has more than `per_receiver` attempts in flight
(`DELIVERY_PER_RECEIVER`; the claim skips a receiver at its cap and takes at most that many of
one receiver at a time): a receiver that hangs cannot take every slot, routing never waits
for delivery, and other receivers' deliveries keep flowing through the other slots.
If recording fails the outcomes are kept and written on the next round; should the process
die first, the rows come back after the lease and are sent again (at least once).

Delivery is at least once: the router cannot tell a receiver that took an attempt but
answered after the deadline (or whose sender died before recording the answer) from one that
never got it, so it sends again with the same id (`X-Support-Triage-Delivery` of webhooks),
which receivers can dedupe on. A row sent after such an attempt keeps that attempt's error
(`timeout: ...`, or `LEASE_EXPIRED` written by the claim), so it is visible which ones the
receiver may have twice. The lease (120 s) only has to outlast one attempt (its deadline)
plus the time its outcome may wait in memory while the database is away; shorter, a
database outage longer than the lease would let another instance send rows again whose
outcomes are waiting here. It cannot be renewed while the database is away, and a shorter
one would not avoid the resend after a crash either, only make it come sooner.

`Sweeper` runs a sweep (`router.service.routing.sweep_ack_timeouts`) every interval and
refreshes the gauges that are read from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from router import metrics
from router.adapters.notifications import DeliveryError, backoff_delay
from router.domain.notifications import Notification, Target
from router.ports import Clock, DeliveryOutcome, DeliveryQueue, RouterStore
from router.records import DeliveryStatus, NotificationRecord
from servicekit.backoff import DEFAULT_BACKOFF, BackoffPolicy, sleep_until

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Makes one delivery attempt (`router.adapters.notifications.Notifier` in production)."""

    async def send(self, target: Target, notification: Notification) -> None:
        """Deliver or raise `DeliveryError`."""
        ...


RetryDelay = Callable[[int], float]
"""The wait in seconds before a notification is tried again, given its failed attempt (from 0)
(`router.adapters.notifications.backoff_delay`)."""


class DeliveryWorker:
    """Delivers queued notifications; see the module docstring."""

    def __init__(
        self,
        *,
        store: DeliveryQueue,
        sender: Sender,
        clock: Clock,
        max_attempts: int = 6,
        concurrency: int = 16,
        per_receiver: int | None = 4,
        backoff: RetryDelay = backoff_delay,
        lease: timedelta = timedelta(seconds=120),
        poll_interval: float = 1.0,
        failure_backoff: BackoffPolicy = DEFAULT_BACKOFF,
        max_retry_after: float = 300.0,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.per_receiver = per_receiver
        self.backoff = backoff
        self.lease = lease
        self.poll_interval = poll_interval
        self.failure_backoff = failure_backoff
        self.max_retry_after = max_retry_after
        self._inflight: set[asyncio.Task[None]] = set()
        self._receivers: Counter[str] = Counter()  # attempts in flight per address
        self._finished: list[tuple[NotificationRecord, DeliveryOutcome]] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; `run` returns after the deliveries in flight finish."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until stopped; a failing database is retried after a backoff
        (`servicekit.backoff`) that wakes do not shorten."""
        backoff = self.failure_backoff.start()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self._record_finished()
                await self._claim_and_start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning("delivery bookkeeping failed (%s); retrying in %.1fs", exc, delay)
                await sleep_until(self._stopping, delay)
                continue
            backoff.reset()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        await self.drain(grace=10.0)

    async def run_once(self) -> int:
        """Claim what is due now, deliver it and wait for the outcomes (tests, tools)."""
        started = await self._claim_and_start()
        await self.drain()
        return started

    async def drain(self, grace: float | None = None) -> None:
        """Wait for deliveries in flight (cancel them after `grace` seconds) and record
        their outcomes."""
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self._record_finished()

    async def _record_finished(self) -> None:
        """Write the outcomes finished so far in one transaction, then count them."""
        if not self._finished:
            return
        batch, self._finished = self._finished, []
        try:
            await asyncio.to_thread(self.store.finish_notifications, [o for _, o in batch])
        except BaseException:
            self._finished[:0] = batch  # keep them for the next round
            raise
        for record, outcome in batch:
            status = outcome.status
            outcome_label = "retry" if status is DeliveryStatus.QUEUED else status.value
            metrics.NOTIFICATIONS.labels(record.channel, outcome_label).inc()
            if status is DeliveryStatus.FAILED:
                metrics.NOTIFICATIONS_FAILED.inc()
                log.warning(
                    "notification %s to %s via %s failed after %d attempt(s): %s",
                    record.id,
                    record.squad,
                    record.channel,
                    outcome.attempts,
                    outcome.last_error,
                )

    async def _claim_and_start(self) -> int:
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        cap = self.per_receiver
        busy = [] if cap is None else [a for a, k in self._receivers.items() if k >= cap]
        claimed = await asyncio.to_thread(
            self.store.claim_notifications,
            self.clock.now(),
            limit=free,
            lease=self.lease,
            per_receiver=cap,
            busy=busy,
        )
        for record in claimed:
            task = asyncio.create_task(self._deliver(record), name=f"deliver-{record.id}")
            self._inflight.add(task)
            self._receivers[record.address] += 1
            task.add_done_callback(functools.partial(self._done, record.address))
        return len(claimed)

    def _done(self, address: str, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._receivers[address] -= 1
        if self._receivers[address] <= 0:
            del self._receivers[address]
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())
        self._wake.set()  # a slot is free

    async def _deliver(self, record: NotificationRecord) -> None:
        attempts = record.attempts  # the claim counted this attempt
        if attempts > self.max_attempts:  # the last attempt never reported back
            self._finished.append((record, self._given_up(record)))
            return
        error: str | None = None
        retry_at: datetime | None = None
        try:
            target = Target(record.channel, record.address, record.secret_env)
            await self.sender.send(target, Notification.model_validate(record.payload))
            status = DeliveryStatus.SENT
        except DeliveryError as exc:
            error = str(exc)
            status, retry_at = self._after_failure(attempts, exc.retryable, exc.retry_after)
        except Exception as exc:  # a bug or a bad row: retry, then give up
            error = f"internal: {type(exc).__name__}: {exc}"
            status, retry_at = self._after_failure(attempts, True, None)
        now = self.clock.now()
        outcome = DeliveryOutcome(
            notification_id=record.id,
            status=status,
            attempts=attempts,
            next_attempt_at=retry_at,
            # A row sent after a failed attempt keeps that attempt's error: after a timeout
            # or an expired lease the receiver may have the notification twice.
            last_error=error or record.last_error,
            sent_at=now if status is DeliveryStatus.SENT else None,
        )
        self._finished.append((record, outcome))

    def _given_up(self, record: NotificationRecord) -> DeliveryOutcome:
        """`failed` for a row claimed after its last attempt: that attempt's process died
        (or stalled past its lease) before recording an outcome."""
        made = record.attempts - 1
        return DeliveryOutcome(
            notification_id=record.id,
            status=DeliveryStatus.FAILED,
            attempts=made,
            last_error=f"gave up: attempt {made} of {self.max_attempts} never reported an "
            f"outcome (earlier error: {record.last_error})",
            claimed=record.attempts,
        )

    def _after_failure(
        self, attempts: int, retryable: bool, retry_after: float | None
    ) -> tuple[DeliveryStatus, datetime | None]:
        if not retryable or attempts >= self.max_attempts:
            return DeliveryStatus.FAILED, None
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), self.max_retry_after)
        else:
            wait = self.backoff(attempts - 1)
        return DeliveryStatus.QUEUED, self.clock.now() + timedelta(seconds=wait)


class Sweeper:
    """Runs `sweep()` every `interval` seconds; `after(n)` is called with its result."""

    def __init__(
        self,
        *,
        sweep: Callable[[], int],
        interval: float,
        after: Callable[[int], None] = lambda _n: None,
        refresh: Callable[[], None] = lambda: None,
    ) -> None:
        self.sweep = sweep
        self.interval = interval
        self.after = after
        self.refresh = refresh
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Return from `run` at the next tick."""
        self._stopping.set()

    async def run(self) -> None:
        """Sweep until stopped; an error is logged and the next tick tries again."""
        while not self._stopping.is_set():
            try:
                escalated = await asyncio.to_thread(self.sweep)
                if escalated:
                    self.after(escalated)
                await asyncio.to_thread(self.refresh)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ack-timeout sweep failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)


def refresh_gauges(store: RouterStore) -> None:
    """Set the gauges read from the database (open swarms, failed notifications)."""
    metrics.SWARMS_OPEN.set(store.count_open_swarms())
    metrics.NOTIFICATIONS_FAILED.set(store.count_failed_notifications())
