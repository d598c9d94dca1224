"""The triage consumer handler: a valid event the database refuses is dead-lettered.

On Postgres an event id longer than the processed-events column is a data error that fails
the same way on every retry; it must not block its partition (the rest of the batch is
stored and only that record goes to the dead-letter topic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord

from contracts import CloudEvent
from contracts.catalogue import load_catalogue
from contracts.events import CaseReassigned
from contracts.topics import CASE_REASSIGNED, CASE_RECEIVED
from contracts.wire import encode
from devkit.triage_fakes import FakeModelStore, KeywordClassifier
from triage.bootstrap import build_container
from triage.config import Settings
from triage.domain import CaseFilter
from triage.entrypoints.consumer import make_handler
from triage.migrations import upgrade

from .conftest import DEMO

pytestmark = pytest.mark.postgres


def record(topic: str, offset: int, event: CloudEvent) -> ConsumerRecord:
    rec = encode(event, "k")
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=rec.key,
        value=rec.value,
        checksum=None,
        serialized_key_size=len(rec.key or b""),
        serialized_value_size=len(rec.value),
        headers=tuple(rec.headers),
    )


def received(ref: str, **attrs: object) -> CloudEvent:
    data = {"title": "Checkout fails", "description": "place order", "external_ref": ref}
    data["reporter"] = {"name": "Ada"}  # type: ignore[assignment]
    return CloudEvent(type=CASE_RECEIVED, source="/tests", data=data, **attrs)


def reassigned(**attrs: object) -> CloudEvent:
    data = CaseReassigned(
        case_id=uuid4(),
        from_squad="payments",
        to_squad="checkout",
        predicted_squad="payments",
        reassigned_at=datetime.now(UTC),
        by="sam",
    )
    return CloudEvent(type=CASE_REASSIGNED, source="/tests", data=data, **attrs)


async def test_records_the_database_refuses_are_dead_lettered_and_the_rest_stored(
    postgres_url: str, tmp_path: Path
) -> None:
    upgrade(postgres_url)
    tag = uuid4().hex[:8]
    settings = Settings(
        database_url=postgres_url,
        catalogue_path=DEMO,
        model_dir=tmp_path / "model",
        topic_received=f"received-{tag}",
        topic_lifecycle=f"lifecycle-{tag}",
    )
    classifier = KeywordClassifier(load_catalogue(DEMO))
    container = build_container(settings, store=FakeModelStore(lambda _c: classifier), kafka=False)
    try:
        received_topic, lifecycle = settings.topics.received, settings.topics.lifecycle
        records = [
            record(received_topic, 0, received(f"ok-{tag}")),
            record(received_topic, 1, received(f"poison-{tag}", id="x" * 300)),
            record(lifecycle, 2, reassigned()),
            record(lifecycle, 3, reassigned(id="y" * 300)),
        ]
        handler = make_handler(
            topics=settings.topics,
            take_in=container.write_batch,
            record_corrections=container.record_corrections,
            committed=container.wake,
        )
        rejected = await handler(records)
        assert sorted((r.record.offset, r.reason) for r in rejected) == [
            (1, "intake_failed"),
            (3, "intake_failed"),
        ]
        refs = [c.submission.external_ref for c in container.repo.find(CaseFilter(), limit=10)]
        assert f"ok-{tag}" in refs and f"poison-{tag}" not in refs
        assert len(container.repo.labels()) >= 1
    finally:
        await container.stop()
