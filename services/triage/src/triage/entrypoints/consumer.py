"""Kafka entrypoint: `support.case.received.v1` records -> cases; reassignments -> labels.

Per batch: decode every record (binary or structured CloudEvents), reject the malformed
ones to the dead-letter topic with the wire error code, classify the valid cases in one call
and store them with their outbox rows and processed event ids in one transaction. Duplicates
(event id seen before, or an external_ref already stored) are counted and skipped, not
dead-lettered. `support.case.reassigned.v1` events on the lifecycle topic become training
labels; other lifecycle events are not triage's business and are skipped.

A transient storage error (`servicekit.db.is_transient`: database unreachable, lock timeout)
fails the batch, which the consumer retries. Any other error while storing the cases (a value
the database refuses for one record, say) makes the handler store them one by one, so only
the record that cannot be stored is dead-lettered (`intake_failed`) and its partition moves
on instead of retrying the same batch forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from contracts import CaseSubmission
from contracts.envelope import CloudEvent
from contracts.events import CaseReassigned
from contracts.topics import CASE_REASSIGNED, CASE_RECEIVED
from contracts.wire import Mode, WireError, decode_record, parse_data
from servicekit.consumer import BatchHandler, ConsumerRecord, Rejected
from servicekit.db import is_transient
from triage import metrics, service
from triage.domain import Accepted, Intake

if TYPE_CHECKING:
    from triage.bootstrap import Container

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _decode(record: ConsumerRecord) -> CloudEvent:
    decoded = decode_record(record.value, record.headers)
    if decoded.mode is Mode.JSON_STRUCTURED:
        metrics.JSON_STRUCTURED.labels(record.topic).inc()
    return decoded.event


def make_handler(container: Container) -> BatchHandler:
    """The batch handler for `servicekit.consumer.BatchConsumer`."""

    async def handle(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        topics = container.settings.topics
        rejected: list[Rejected] = []
        intakes: list[tuple[ConsumerRecord, Intake]] = []
        corrections: list[tuple[ConsumerRecord, tuple[str, CaseReassigned]]] = []
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
            intakes.append((record, Intake.of(submission, event_id=event.id)))
        if intakes:
            outcomes = await _store(container.write_batch, intakes, rejected)
            stored = sum(1 for o in outcomes if isinstance(o, Accepted) and not o.replayed)
            skipped = len(outcomes) - stored
            if skipped:
                log.info("skipped %d duplicate case(s) of %d", skipped, len(outcomes))
            if stored and container.relay is not None:
                container.relay.wake()
        if corrections:

            def write_labels(items: Sequence[tuple[str, CaseReassigned]]) -> list[int]:
                return [service.record_corrections(items, repo=container.repo)]

            added = sum(await _store(write_labels, corrections, rejected))
            metrics.LABELS.inc(added)
            log.info("recorded %d correction label(s)", added)
        return rejected

    return handle


async def _store(
    write: Callable[[Sequence[T]], Sequence[R]],
    items: list[tuple[ConsumerRecord, T]],
    rejected: list[Rejected],
) -> list[R]:
    """`write` the batch in one transaction; after a non-transient error, item by item,
    rejecting (`intake_failed`) the records whose item cannot be written."""
    try:
        return list(await asyncio.to_thread(write, [item for _, item in items]))
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("storing a batch of %d record(s) failed; storing one by one", len(items))
    results: list[R] = []
    for record, item in items:
        try:
            results.extend(await asyncio.to_thread(write, [item]))
        except Exception as exc:
            if is_transient(exc):
                raise
            rejected.append(Rejected(record, "intake_failed", f"{type(exc).__name__}: {exc}"))
    return results


def _lifecycle(
    record: ConsumerRecord, out: list[tuple[ConsumerRecord, tuple[str, CaseReassigned]]]
) -> None:
    try:
        event = _decode(record)
        if event.type == CASE_REASSIGNED:
            out.append((record, (event.id, parse_data(event, CASE_REASSIGNED, CaseReassigned))))
    except WireError as exc:
        log.warning(
            "skipping unreadable lifecycle record %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
