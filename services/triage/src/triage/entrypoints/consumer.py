"""Kafka entrypoint: `support.case.received.v1` records -> cases; reassignments -> labels.

Per batch: decode every record (binary or structured CloudEvents), reject the malformed
ones to the dead-letter topic with the wire error code, classify the valid cases in one call
and store them with their outbox rows and processed event ids in one transaction. Duplicates
(event id seen before, or an external_ref already stored) are counted and skipped, not
dead-lettered. `support.case.reassigned.v1` events on the lifecycle topic become training
labels; other lifecycle events are not triage's business and are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from contracts import CaseSubmission
from contracts.events import CaseReassigned
from contracts.topics import CASE_REASSIGNED, CASE_RECEIVED
from contracts.wire import WireError, decode, parse_data
from servicekit.consumer import BatchHandler, ConsumerRecord, Rejected
from triage import metrics, service
from triage.domain import Accepted, Intake

if TYPE_CHECKING:
    from triage.bootstrap import Container

log = logging.getLogger(__name__)


def make_handler(container: Container) -> BatchHandler:
    """The batch handler for `servicekit.consumer.BatchConsumer`."""

    async def handle(records: Sequence[ConsumerRecord]) -> list[Rejected]:
        topics = container.settings.topics
        rejected: list[Rejected] = []
        intakes: list[Intake] = []
        corrections: list[tuple[str, CaseReassigned]] = []
        for record in records:
            if record.topic == topics.lifecycle:
                _lifecycle(record, corrections)
                continue
            try:
                event = decode(record.value, record.headers)
                submission = parse_data(event, CASE_RECEIVED, CaseSubmission)
            except WireError as exc:
                rejected.append(Rejected(record=record, reason=exc.code, error=exc.message))
                continue
            intakes.append(Intake.of(submission, event_id=event.id))
        if intakes:
            outcomes = await asyncio.to_thread(container.write_batch, intakes)
            stored = sum(1 for o in outcomes if isinstance(o, Accepted) and not o.replayed)
            skipped = len(outcomes) - stored
            if skipped:
                log.info("skipped %d duplicate case(s) of %d", skipped, len(outcomes))
            if stored and container.relay is not None:
                container.relay.wake()
        if corrections:
            added = await asyncio.to_thread(
                service.record_corrections, corrections, repo=container.repo
            )
            metrics.LABELS.inc(added)
            log.info("recorded %d correction label(s)", added)
        return rejected

    return handle


def _lifecycle(record: ConsumerRecord, out: list[tuple[str, CaseReassigned]]) -> None:
    try:
        event = decode(record.value, record.headers)
        if event.type == CASE_REASSIGNED:
            out.append((event.id, parse_data(event, CASE_REASSIGNED, CaseReassigned)))
    except WireError as exc:
        log.warning(
            "skipping unreadable lifecycle record %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
