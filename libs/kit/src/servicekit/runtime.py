"""The Kafka side of a service: topics, producer, outbox relay and consumer, supervised.

`KafkaRuntime.start()` starts one supervisor task; HTTP serves whatever it does. The
supervisor connects (creates the missing topics, starts the producer), then runs the outbox
relay and the consumer (`servicekit.outbox`, `servicekit.consumer`). When the broker is
unreachable, or any part ends while the service is not stopping (a consumer that cannot join
its group, or one that died on an error its loop does not handle), the supervisor closes
every part, waits out the backoff of `servicekit.backoff` and starts them all again. The
backoff starts over once every part runs. `health()` says what runs, and `/readyz`
(`servicekit.health`) answers 503 until all of it does. Should the supervisor itself end
while the service is not stopping (an error its loop cannot catch), `health()` says so
(`supervisor`), so `/readyz` answers 503 instead of reporting the last state it saw.

A broker that lost its storage (the local in-memory broker restarted, or an operator deleted
a topic) comes back without the topics: the producer and the consumer then retry forever
against topics that no longer exist (an offset commit retries `UnknownTopicOrPartition`
without end). So a watch part asks the broker every `topic_check_interval` seconds (one
metadata request on the producer's connection) whether every topic of the service still
exists: a missing one ends the watch, and the supervisor starts every part again, which
creates it. A commit that takes longer than `servicekit.consumer.COMMIT_TIMEOUT` ends the
consumer, which the supervisor starts again, and after a failed pass the outbox relay
creates the topics before it publishes again.

The relay also asks the broker, before it hands a batch to the producer, whether it has
every topic of the batch; when the broker is unreachable or lacks one, the pass fails and
nothing of it was sent. That is what keeps events from being lost when the local broker
restarts: it stores records for a topic it does not have and acknowledges them, and when
the topic is created afterwards it starts the partitions' offsets at 0 again over those
records, so later records collide with them (the producer gets `UnknownServerError`) or are
stored inside their offset range, where no consumer reads them. A batch handed to the
producer while the broker is down is sent as soon as it is back (the producer keeps its
metadata), before anyone created the topics; without the check a relay that tried during
the outage lost events that way. What the check leaves open: a batch already handed over
when the broker goes down and comes back empty. Consumers need nothing of the kind: the
restarted broker has forgotten their group, so they join again and start from the earliest
offset of the new partitions (no committed offset; a commit still being retried across the
restart could store offsets from before, which the fault scenario has not shown). With real
Kafka, topics, records and committed offsets survive a restart.

`stop()` lets the consumer finish its batch and the relay its pass, leaves the consumer
group, then stops the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import Engine, Table

from servicekit.backoff import DEFAULT_BACKOFF, Backoff, BackoffPolicy, sleep_until
from servicekit.consumer import BatchConsumer, BatchHandler, ConsumerSettings, make_consumer
from servicekit.kafka import (
    PLAINTEXT,
    KafkaSecurity,
    ensure_topics,
    make_producer,
    missing_topics,
)
from servicekit.outbox import OutboxRelay

log = logging.getLogger(__name__)

STOP_GRACE = 10.0  # seconds a stopping consumer or relay may take to finish its batch
TOPIC_CHECK_INTERVAL = 5.0  # seconds between two checks that the topics still exist
TOPIC_CHECK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Outbox:
    """The outbox table the relay publishes (`servicekit.outbox`)."""

    engine: Engine
    table: Table
    wake_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Consume:
    """What the consumer reads, in which group, and the handler of its batches."""

    topics: Sequence[str]
    group_id: str
    deadletter_topic: str
    handler: BatchHandler


class TopicsLost(RuntimeError):
    """Topics of the service are gone from the broker."""

    def __init__(self, topics: Sequence[str]) -> None:
        super().__init__(f"topics gone from the broker: {', '.join(topics)}")


class KafkaClients(Protocol):
    """Makes the Kafka clients (aiokafka's by default; fakes in unit tests)."""

    def producer(self) -> AIOKafkaProducer:
        """A producer, not started."""
        ...

    def consumer(self, settings: ConsumerSettings) -> AIOKafkaConsumer:
        """A consumer, not started."""
        ...

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create the topics that do not exist yet."""
        ...


@dataclass(frozen=True, slots=True)
class AioKafkaClients:
    """`KafkaClients` of aiokafka (`servicekit.kafka`, `servicekit.consumer`)."""

    bootstrap_servers: str
    client_id: str
    enable_idempotence: bool = False
    security: KafkaSecurity = PLAINTEXT

    def producer(self) -> AIOKafkaProducer:
        """`servicekit.kafka.make_producer`."""
        return make_producer(
            self.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=self.enable_idempotence,
            security=self.security,
        )

    def consumer(self, settings: ConsumerSettings) -> AIOKafkaConsumer:
        """`servicekit.consumer.make_consumer`."""
        return make_consumer(settings)

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """`servicekit.kafka.ensure_topics`."""
        await ensure_topics(self.bootstrap_servers, topics, security=self.security)


class KafkaRuntime:
    """The supervised Kafka side of one service; see the module docstring."""

    def __init__(
        self,
        *,
        service: str,
        bootstrap_servers: str,
        topics: Sequence[str],
        outbox: Outbox | None = None,
        consume: Consume | None = None,
        enable_idempotence: bool = False,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
        clients: KafkaClients | None = None,
        security: KafkaSecurity = PLAINTEXT,
        topic_check_interval: float = TOPIC_CHECK_INTERVAL,
    ) -> None:
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.outbox = outbox
        self.consume = consume
        self.backoff = backoff
        self.topic_check_interval = topic_check_interval
        self.clients: KafkaClients = clients or AioKafkaClients(
            bootstrap_servers, service, enable_idempotence, security
        )
        self.security = security
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: BatchConsumer | None = None
        self.restarts = 0
        self._kafka_consumer: AIOKafkaConsumer | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failure: str | None = None

    def wake(self) -> None:
        """New outbox rows were committed: let the relay look now."""
        if self.relay is not None:
            self.relay.wake()

    async def start(self) -> None:
        """Start the supervisor in the background."""
        if self._supervisor is None:
            self._stopping.clear()
            self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.service}-kafka")

    async def stop(self) -> None:
        """Finish the current batch and pass, leave the group, stop the producer."""
        self._stopping.set()
        if self._supervisor is not None:
            if self.producer is not None:  # running: let the parts finish their work
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._supervisor), STOP_GRACE + 5)
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
            except BaseException as exc:  # it had ended on its own: say why, and stop
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                log.error("%s: the Kafka supervisor had ended: %r", self.service, exc)
            self._supervisor = None
        await self._close()

    def health(self) -> dict[str, str]:
        """What runs: `broker`, then `relay` and `consumer` when the service has them; each
        is `ok` or says why not (`supervisor` too, when it ended)."""
        ended = self._supervisor_ended()
        if ended is not None:
            return {"supervisor": ended}
        down = "restarting" if self._failure else "connecting"
        if self.producer is None:
            checks = {"broker": f"{down} ({self._failure})" if self._failure else down}
        else:
            checks = {"broker": "ok"}
        if self.outbox is not None:
            if self.relay is None:
                checks["relay"] = "not running"
            else:
                checks["relay"] = "ok" if self.relay.healthy else "failing"
        if self.consume is not None:
            if self.consumer is not None:
                checks["consumer"] = "ok"
            elif self._consumer_task is not None:
                checks["consumer"] = "joining the group"
            else:
                checks["consumer"] = "not running"
        return checks

    def _supervisor_ended(self) -> str | None:
        """Why the supervisor is gone while the service is not stopping, or None."""
        task = self._supervisor
        if task is None or not task.done() or self._stopping.is_set():
            return None
        if task.cancelled():
            return "stopped (cancelled)"
        error = task.exception()
        return f"stopped ({type(error).__name__})" if error is not None else "stopped"

    async def check(self, within: float = 1.0) -> dict[str, str]:
        """`health()`, with the broker asked for its metadata (`within` seconds)."""
        checks = self.health()
        if self.producer is not None:
            try:
                await asyncio.wait_for(self.producer.client.fetch_all_metadata(), within)
            except Exception as exc:
                checks["broker"] = f"unreachable ({type(exc).__name__})"
        return checks

    async def _supervise(self) -> None:
        backoff = self.backoff.start()
        while not self._stopping.is_set():
            try:
                await self._run(backoff)
                return  # stopping
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            finally:
                await self._close()
            delay = backoff.next_delay()
            log.warning(
                "%s: Kafka side at %s failed (%s); restarting in %.1fs",
                self.service,
                self.bootstrap_servers,
                self._failure,
                delay,
            )
            self.restarts += 1
            await sleep_until(self._stopping, delay)

    async def _run(self, backoff: Backoff) -> None:
        """Connect and run the parts until stopping (returns) or one ends (raises)."""
        producer = self.clients.producer()
        self.producer = None
        try:
            await self.clients.ensure_topics(self.topics)
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self.producer = producer
        log.info("%s: connected to Kafka at %s", self.service, self.bootstrap_servers)
        parts: dict[asyncio.Task[None], str] = {}
        if self.outbox is not None:
            self.relay = OutboxRelay(
                engine=self.outbox.engine,
                table=self.outbox.table,
                producer=producer,
                service=self.service,
                wake_delay=self.outbox.wake_delay,
                backoff=self.backoff,
                after_failure=lambda: self.clients.ensure_topics(self.topics),
                before_publish=lambda topics: self._require_topics(producer, topics),
            )
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-relay")
            parts[self._relay_task] = "outbox relay"
        if self.consume is not None:
            self._consumer_task = asyncio.create_task(
                self._consume(self.consume, producer, backoff), name=f"{self.service}-consumer"
            )
            parts[self._consumer_task] = "consumer"
        else:
            self._all_running(backoff)
        watch = asyncio.create_task(self._watch_topics(producer), name=f"{self.service}-topics")
        parts[watch] = "topic watch"
        stopping = asyncio.create_task(self._wait_for_stop())
        try:
            await asyncio.wait({stopping, *parts}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch
        if self._stopping.is_set():
            return
        task = next(t for t in parts if t.done())
        error = task.exception() if not task.cancelled() else None
        if error is not None:
            raise RuntimeError(f"the {parts[task]} died: {type(error).__name__}: {error}")
        raise RuntimeError(f"the {parts[task]} stopped")

    async def _wait_for_stop(self) -> None:
        await self._stopping.wait()

    async def _require_topics(self, producer: AIOKafkaProducer, topics: Iterable[str]) -> None:
        """Raise unless the broker answers and has every one of `topics` (the relay's check
        before it hands a batch to the producer; see the module docstring)."""
        missing = await asyncio.wait_for(missing_topics(producer, topics), TOPIC_CHECK_TIMEOUT)
        if missing:
            raise TopicsLost(missing)

    async def _watch_topics(self, producer: AIOKafkaProducer) -> None:
        """Return when a topic of the service is gone from the broker (see the module
        docstring); an unreachable broker is the other parts' concern."""
        while not await sleep_until(self._stopping, self.topic_check_interval):
            try:
                missing = await asyncio.wait_for(
                    missing_topics(producer, self.topics), TOPIC_CHECK_TIMEOUT
                )
            except Exception as exc:
                log.debug("%s: topic check failed: %s", self.service, exc)
                continue
            if missing:
                log.warning(
                    "%s: topics %s are gone from the broker; starting over", self.service, missing
                )
                raise TopicsLost(missing)

    async def _consume(
        self, consume: Consume, producer: AIOKafkaProducer, backoff: Backoff
    ) -> None:
        settings = ConsumerSettings(
            bootstrap_servers=self.bootstrap_servers,
            group_id=consume.group_id,
            topics=consume.topics,
            deadletter_topic=consume.deadletter_topic,
            service=self.service,
            backoff=self.backoff,
            security=self.security,
        )
        self._kafka_consumer = self.clients.consumer(settings)
        await self._kafka_consumer.start()
        self.consumer = BatchConsumer(
            settings=settings,
            consumer=self._kafka_consumer,
            producer=producer,
            handler=consume.handler,
        )
        self._all_running(backoff)
        await self.consumer.run()

    def _all_running(self, backoff: Backoff) -> None:
        if self._failure is not None:
            log.info("%s: Kafka side runs again", self.service)
        self._failure = None
        backoff.reset()

    async def _close(self) -> None:
        """Stop the parts (letting the consumer finish its batch), then the clients."""
        if self.consumer is not None:
            self.consumer.stop()
        if self.relay is not None:
            self.relay.stop()
        tasks = [t for t in (self._consumer_task, self._relay_task) if t is not None]
        if self._consumer_task is not None and self.consumer is None:
            self._consumer_task.cancel()  # still joining the group: nothing to finish
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._kafka_consumer is not None:
            with contextlib.suppress(Exception):
                await self._kafka_consumer.stop()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        self._consumer_task = self._relay_task = None
        self._kafka_consumer = None
        self.consumer = None
        self.relay = None
        self.producer = None
