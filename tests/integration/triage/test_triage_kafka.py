"""The consumer and the outbox against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import CloudEvent
from contracts.catalogue import load_catalogue
from contracts.events import CaseReassigned, CaseTriaged
from contracts.topics import CASE_REASSIGNED, CASE_RECEIVED, CASE_TRIAGED
from contracts.wire import decode, encode
from devkit.broker import LocalBroker, free_port
from devkit.testing import auth_headers
from devkit.triage_fakes import FakeModelStore, KeywordClassifier
from servicekit.kafka import ensure_topics, make_producer
from servicekit.outbox import OutboxRelay
from triage.adapters.db import OUTBOX
from triage.app import Container
from triage.bootstrap import build_container
from triage.config import Settings
from triage.entrypoints.http import create_app
from triage.migrations import upgrade

from .conftest import DEMO, read_topic

pytestmark = pytest.mark.kafka

CASE = {"title": "Checkout fails", "description": "place order", "reporter": {"name": "Ada"}}


def make_container(tmp_path: Path, bootstrap: str, names: dict[str, str]) -> Container:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        catalogue_path=DEMO,
        model_dir=tmp_path / "model",
        **names,
    )
    classifier = KeywordClassifier(load_catalogue(DEMO))
    return build_container(settings, store=FakeModelStore(lambda _c: classifier))


async def wait_for(predicate, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def received(data: object, **attrs: object) -> CloudEvent:
    return CloudEvent(type=CASE_RECEIVED, source="/tests", data=data, **attrs)


async def test_consumer_stores_cases_dead_letters_and_commits(
    tmp_path: Path, broker: LocalBroker, topic_names: dict[str, str]
) -> None:
    bootstrap = broker.bootstrap_servers
    container = make_container(tmp_path, bootstrap, topic_names)
    await container.start()
    try:
        runtime = container.runtime
        assert runtime is not None
        await wait_for(lambda: runtime.consumer is not None)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        topic = topic_names["topic_received"]
        binary = received({**CASE, "external_ref": "ZD-bin"})
        rec = encode(binary, "k1")
        structured = received({**CASE, "title": "Structured checkout", "external_ref": "ZD-st"})
        st_value = structured.model_dump_json().encode()
        st_headers = [("content-type", b"application/cloudevents+json")]
        not_json = b"{not json"
        not_json_headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"x"),
            ("ce_source", b"/t"),
            ("ce_type", CASE_RECEIVED.encode()),
        ]
        no_headers = b'{"title": "no headers"}'
        await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
        await producer.send_and_wait(topic, st_value, key=b"k2", headers=st_headers)
        await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)  # dup
        await producer.send_and_wait(topic, not_json, headers=not_json_headers)
        wrong = encode(CloudEvent(type="other.v1", source="/t", data=CASE))
        await producer.send_and_wait(topic, wrong.value, headers=wrong.headers)
        await producer.send_and_wait(topic, no_headers, headers=[])
        invalid = encode(received({"title": "no reporter"}))
        await producer.send_and_wait(topic, invalid.value, headers=invalid.headers)
        correction = CloudEvent.of(
            type=CASE_REASSIGNED,
            source="/router",
            subject="x",
            data=CaseReassigned(
                case_id=uuid4(),
                from_squad="checkout",
                to_squad="payments",
                predicted_squad="checkout",
                by="lead",
                reassigned_at=datetime.now(UTC),
            ),
        )
        lc = encode(correction, "k3")
        await producer.send_and_wait(
            topic_names["topic_lifecycle"], lc.value, key=lc.key, headers=lc.headers
        )
        await producer.stop()

        triaged = await read_topic(bootstrap, topic_names["topic_triaged"], 2)
        dead = await read_topic(bootstrap, topic_names["topic_deadletter"], 4)
        await wait_for(lambda: len(container.repo.labels()) == 1)
        await wait_for(lambda: runtime.consumer is not None and runtime.consumer.processed >= 8)
    finally:
        await container.stop()

    assert len(triaged) == 2
    events = [decode(r.value, r.headers) for r in triaged]
    assert {e.type for e in events} == {CASE_TRIAGED}
    for r, e in zip(triaged, events, strict=True):
        headers = dict(r.headers)
        assert {"ce_id", "ce_type", "ce_source", "ce_specversion", "ce_subject"} <= set(headers)
        assert r.key.decode() == e.subject
        data = CaseTriaged.model_validate(e.data)
        assert str(data.case_id) == e.subject
    refs = {CaseTriaged.model_validate(e.data).case.external_ref for e in events}
    assert refs == {"ZD-bin", "ZD-st"}

    reasons = {dict(r.headers)["dlq_reason"].decode(): r for r in dead}
    assert set(reasons) == {"invalid_json", "unexpected_type", "missing_attribute", "invalid_data"}
    assert reasons["invalid_json"].value == b"{not json"
    assert reasons["missing_attribute"].value == no_headers
    assert reasons["invalid_data"].value == invalid.value
    assert container.repo.labels()[0].squad == "payments"

    # offsets were committed: a new member of the group finds nothing left
    late = AIOKafkaConsumer(
        topic_names["topic_received"],
        bootstrap_servers=bootstrap,
        group_id=topic_names["kafka_consumer_group"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await late.start()
    try:
        leftovers = []
        deadline = time.monotonic() + 20
        while not late.assignment() and time.monotonic() < deadline:
            batch = await late.getmany(timeout_ms=500)
            leftovers += [r for recs in batch.values() for r in recs]
        assert late.assignment()
        batch = await late.getmany(timeout_ms=1000)
        leftovers += [r for recs in batch.values() for r in recs]
        assert leftovers == []
    finally:
        await late.stop()


async def test_post_while_broker_is_down_is_relayed_later(
    tmp_path: Path, broker: LocalBroker, topic_names: dict[str, str]
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    container = make_container(tmp_path, dead, topic_names)
    app = create_app(container)
    await container.start()
    try:
        async with httpx.AsyncClient(
            headers=auth_headers(), transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            resp = await http.post("/v1/cases", json=CASE)
            assert resp.status_code == 201
            case_id = resp.json()["id"]
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "ok"
            assert ready.json()["checks"]["broker"] != "ok"
    finally:
        await container.stop()
    assert container.engine is not None
    with container.engine.connect() as conn:
        rows = conn.execute(OUTBOX.select()).all()
    assert [r.key for r in rows] == [case_id]

    topic = topic_names["topic_triaged"]
    await ensure_topics(broker.bootstrap_servers, [topic])
    producer = make_producer(broker.bootstrap_servers, client_id="relay-test")
    await producer.start()
    try:
        relay = OutboxRelay(
            engine=container.engine, table=OUTBOX, producer=producer, service="triage"
        )
        assert await relay.relay_once() == 1
    finally:
        await producer.stop()
    (record,) = await read_topic(broker.bootstrap_servers, topic, 1)
    event = decode(record.value, record.headers)
    assert event.subject == case_id and json.loads(record.value)["case_id"] == case_id
    with container.engine.connect() as conn:
        assert conn.execute(OUTBOX.select()).all() == []
