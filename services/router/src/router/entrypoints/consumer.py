"""The consumer of `support.case.triaged.v1`: bytes -> CaseTriaged -> `route`.

Records that are not valid triaged CloudEvents are returned as `Rejected` with the wire
error code (`servicekit.consumer.BatchConsumer` dead-letters them, then commits). The valid
ones of a batch are routed in one transaction through `servicekit.consumer.store_or_reject`:
a transient error (database unreachable, lock timeout) fails the batch (nothing is committed;
the consumer retries it after a backoff); any other error while routing, including a data
error the database raises for one record (a constraint, a value too long for its column),
makes it route the records one by one, so only the record that cannot be routed is
dead-lettered (`routing_failed`) and its partition moves on.

The handler is given narrow callables, not the service's container: `route` (route a batch
in one transaction, blocking) and `committed` (outbox rows and notifications were committed:
wake the relay and the delivery worker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka import ConsumerRecord

from contracts import topics
from contracts.events import CaseTriaged
from contracts.wire import Mode, WireError, decode_record, parse_data
from router import metrics
from servicekit.consumer import BatchHandler, Rejected, store_or_reject

Triaged = tuple[str, CaseTriaged]


def parse(record: ConsumerRecord) -> Triaged:
    """The event id and payload of a record.

    Raises:
        WireError: Not a valid `support.case.triaged.v1` CloudEvent.
    """
    decoded = decode_record(record.value, record.headers)
    if decoded.mode is Mode.JSON_STRUCTURED:
        metrics.JSON_STRUCTURED.labels(record.topic).inc()
    event = decoded.event
    return event.id, parse_data(event, topics.CASE_TRIAGED, CaseTriaged)


def make_handler(
    *, route: Callable[[Sequence[Triaged]], object], committed: Callable[[], None]
) -> BatchHandler:
    """The batch handler for `BatchConsumer`."""

    def route_all(items: Sequence[Triaged]) -> list[object]:
        return [route(items)]

    async def handle(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        rejected: list[Rejected] = []
        good: list[tuple[ConsumerRecord, Triaged]] = []
        for record in records:
            try:
                good.append((record, parse(record)))
            except WireError as exc:
                rejected.append(Rejected(record, exc.code, exc.message))
        if not good:
            return rejected
        _, failed = await store_or_reject(route_all, good, reason="routing_failed")
        committed()
        return rejected + failed

    return handle
