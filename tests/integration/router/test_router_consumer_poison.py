"""The router's consumer handler: a valid event the database refuses is dead-lettered.

On Postgres an event id longer than the processed-events column is a data error that fails
the same way on every retry; it must not block its partition (the rest of the batch is
routed and only that record goes to the dead-letter topic).
"""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import create_engine, text

from contracts import CloudEvent, topics
from contracts.events import CaseTriaged
from contracts.wire import encode
from router.bootstrap import build
from router.config import Settings
from router.entrypoints.consumer import make_handler
from router.ports import ManualClock
from router.records import CaseFilter

from .test_router_repository_backends import NOW, ROOT, NullSender, triaged

pytestmark = pytest.mark.postgres


def record(offset: int, event_id: str, payload: CaseTriaged) -> ConsumerRecord:
    event = CloudEvent(id=event_id, type=topics.CASE_TRIAGED, source="/tests", data=payload)
    rec = encode(event, str(payload.case_id))
    return ConsumerRecord(
        topic="triaged",
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


async def test_an_event_the_database_refuses_is_dead_lettered_and_the_rest_routed(
    postgres_url: str,
) -> None:
    settings = Settings(database_url=postgres_url, catalogue_path=ROOT / "demo" / "catalogue")
    c = build(settings, clock=ManualClock(NOW), sender=NullSender(), migrate=True)
    try:
        await check_poison_is_dead_lettered(c)
    finally:
        c.engine.dispose()
        engine = create_engine(postgres_url)
        with engine.begin() as conn:  # the database is shared by the module: start clean
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()


async def check_poison_is_dead_lettered(c) -> None:
    (good_id, good), (_, poisoned) = triaged("payments"), triaged("checkout")
    records = [record(0, good_id, good), record(1, "x" * 250, poisoned)]
    rejected = await make_handler(route=c.route, committed=c.wake)(records)
    assert [(r.record.offset, r.reason) for r in rejected] == [(1, "routing_failed")]
    routed = c.store.list_cases(CaseFilter(), limit=10)
    assert [case.id for case in routed] == [good.case_id]
