"""Kafka entrypoint: `support.case.received.v1` records -> cases; reassignments -> labels.

Per batch: decode every record (binary or structured CloudEvents), reject the malformed
ones to the dead-letter topic with the wire error code, classify the valid cases in one call
and store them with their outbox rows and processed event ids in one transaction. Duplicates
(event id seen before, or an external_ref already stored with the same body) are counted and
skipped, not dead-lettered. An `external_ref` is unique per submitter, the event's CloudEvent
`source` (`kafka_scope`): the same reference from another source is another case, and the
same reference from the same source with a different body is dead-lettered with the reason
`external_ref_conflict` (never silently dropped). `support.case.reassigned.v1` (a correction)
and `support.case.resolved.v1` (the final owner) events on the lifecycle topic become
training labels; other lifecycle events are not triage's business and are skipped.

Storing goes through `servicekit.consumer.store_or_reject`: a transient storage error
(database unreachable, lock timeout) fails the batch, which the consumer retries; any other
error (a value the database refuses for one record, say) makes it store the records one by
one, so only the record that cannot be stored is dead-lettered (`intake_failed`) and its
partition moves on instead of retrying the same batch forever.

The handler is given narrow callables, not the service's container: `take_in` (classify and
store a batch of cases, blocking), `record_corrections` (store labels, blocking, returns how
many were new) and `committed` (new outbox rows were committed: wake the relay).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from contracts import CaseSubmission, Topics
from contracts.envelope import CloudEvent
from contracts.events import CaseReassigned, CaseResolved
from contracts.topics import CASE_REASSIGNED, CASE_RECEIVED, CASE_RESOLVED
from contracts.wire import Mode, WireError, decode_record, parse_data
from servicekit.consumer import BatchHandler, ConsumerRecord, Rejected, store_or_reject
from triage import metrics
from triage.domain import Accepted, Intake, kafka_scope
from triage.errors import IdempotencyConflict
from triage.service import Outcome

log = logging.getLogger(__name__)

Correction = tuple[str, CaseReassigned | CaseResolved]
CONFLICT = "external_ref_conflict"


def _decode(record: ConsumerRecord) -> CloudEvent:
    decoded = decode_record(record.value, record.headers)
    if decoded.mode is Mode.JSON_STRUCTURED:
        metrics.JSON_STRUCTURED.labels(record.topic).inc()
    return decoded.event


def make_handler(
    *,
    topics: Topics,
    take_in: Callable[[Sequence[Intake]], Sequence[Outcome]],
    record_corrections: Callable[[Sequence[Correction]], int],
    committed: Callable[[], None],
) -> BatchHandler:
    """The batch handler for `servicekit.consumer.BatchConsumer`."""

    def write_labels(items: Sequence[Correction]) -> list[int]:
        return [record_corrections(items)]

    def write_cases(
        items: Sequence[tuple[ConsumerRecord, Intake]],
    ) -> list[tuple[ConsumerRecord, Outcome]]:
        outcomes = take_in([intake for _, intake in items])
        return list(zip([record for record, _ in items], outcomes, strict=True))

    async def handle(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        rejected: list[Rejected] = []
        intakes: list[tuple[ConsumerRecord, Intake]] = []
        corrections: list[tuple[ConsumerRecord, Correction]] = []
        for record in records:
            if record.topic == topics.lifecycle:
                _lifecycle(record, corrections)
                continue
            try:
                event = _decode(record)
                submission = parse_data(event, CASE_RECEIVED, CaseSubmission)
            except WireError as exc:
                rejected.append(Rejected(record=record, reason=exc.code, error=exc.message))
                continue
            intake = Intake.of(submission, event_id=event.id, scope=kafka_scope(event.source))
            intakes.append((record, intake))
        if intakes:
            pairs = [(record, (record, intake)) for record, intake in intakes]
            results, failed = await store_or_reject(write_cases, pairs, reason="intake_failed")
            rejected += failed
            for record, outcome in results:
                if isinstance(outcome, IdempotencyConflict):
                    rejected.append(Rejected(record=record, reason=CONFLICT, error=outcome.message))
            outcomes = [o for _, o in results if not isinstance(o, IdempotencyConflict)]
            stored = sum(1 for o in outcomes if isinstance(o, Accepted) and not o.replayed)
            skipped = len(outcomes) - stored
            if skipped:
                log.info("skipped %d duplicate case(s) of %d", skipped, len(outcomes))
            if stored:
                committed()
        if corrections:
            counts, failed = await store_or_reject(
                write_labels, corrections, reason="intake_failed"
            )
            rejected += failed
            added = sum(counts)
            metrics.LABELS.inc(added)
            log.info("recorded %d correction label(s)", added)
        return rejected

    return handle


def _lifecycle(record: ConsumerRecord, out: list[tuple[ConsumerRecord, Correction]]) -> None:
    try:
        event = _decode(record)
        if event.type == CASE_REASSIGNED:
            out.append((record, (event.id, parse_data(event, CASE_REASSIGNED, CaseReassigned))))
        elif event.type == CASE_RESOLVED:
            out.append((record, (event.id, parse_data(event, CASE_RESOLVED, CaseResolved))))
    except WireError as exc:
        log.warning(
            "skipping unreadable lifecycle record %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
