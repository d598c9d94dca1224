"""The consumer of `support.case.triaged.v1`: bytes -> CaseTriaged -> `route_triaged`.

Records that are not valid triaged CloudEvents are returned as `Rejected` with the wire
error code (`servicekit.consumer.BatchConsumer` dead-letters them, then commits). The valid
ones of a batch are routed in one transaction. A transient error (database unreachable,
lock timeout: `servicekit.db.is_transient`) fails the batch (nothing is committed; the
consumer retries it after a backoff); any other error while routing, including a data error
the database raises for one record (a constraint, a value too long for its column), makes the
handler route the records one by one, so only the record that cannot be routed is
dead-lettered (`routing_failed`) and its partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiokafka import ConsumerRecord

from contracts import topics
from contracts.events import CaseTriaged
from contracts.wire import Mode, WireError, decode_record, parse_data
from router import metrics
from servicekit.consumer import BatchHandler, Rejected
from servicekit.db import is_transient

if TYPE_CHECKING:
    from router.bootstrap import Container

log = logging.getLogger(__name__)


def parse(record: ConsumerRecord) -> tuple[str, CaseTriaged]:
    """The event id and payload of a record.

    Raises:
        WireError: Not a valid `support.case.triaged.v1` CloudEvent.
    """
    decoded = decode_record(record.value, record.headers)
    if decoded.mode is Mode.JSON_STRUCTURED:
        metrics.JSON_STRUCTURED.labels(record.topic).inc()
    event = decoded.event
    return event.id, parse_data(event, topics.CASE_TRIAGED, CaseTriaged)


def make_handler(container: Container) -> BatchHandler:
    """The batch handler for `BatchConsumer`."""

    async def handle(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        rejected: list[Rejected] = []
        good: list[tuple[ConsumerRecord, tuple[str, CaseTriaged]]] = []
        for record in records:
            try:
                good.append((record, parse(record)))
            except WireError as exc:
                rejected.append(Rejected(record, exc.code, exc.message))
        if not good:
            return rejected
        try:
            await asyncio.to_thread(container.route, [item for _, item in good])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("routing a batch of %d failed; routing one by one", len(good))
            for record, item in good:
                try:
                    await asyncio.to_thread(container.route, [item])
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    rejected.append(
                        Rejected(record, "routing_failed", f"{type(exc).__name__}: {exc}")
                    )
        container.wake()
        return rejected

    return handle
