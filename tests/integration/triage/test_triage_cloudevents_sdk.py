"""Producers nobody on this project wrote: the CloudEvents Python SDK's three Kafka forms
(binary, structured, and the classic `to_structured` that labels a whole event
`application/json`), sent through aiokafka to the real broker, all become triaged cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from cloudevents.v1.http import CloudEvent as ClassicSdkEvent
from cloudevents.v1.kafka import to_structured as classic_to_structured
from prometheus_client import REGISTRY

from contracts.events import CaseTriaged
from contracts.topics import CASE_RECEIVED
from contracts.wire import decode
from devkit.broker import LocalBroker
from triage import metrics

from .conftest import read_topic
from .test_triage_kafka import make_container, wait_for

pytestmark = pytest.mark.kafka

ATTRS = {"type": CASE_RECEIVED, "source": "/crm", "datacontenttype": "application/json"}


def _case(ref: str) -> dict[str, object]:
    return {"title": f"Checkout fails ({ref})", "reporter": {"name": "Ada"}, "external_ref": ref}


async def test_every_form_the_sdk_sends_is_triaged(
    tmp_path: Path, broker: LocalBroker, topic_names: dict[str, str]
) -> None:
    bootstrap = broker.bootstrap_servers
    topic = topic_names["topic_received"]
    metrics.JSON_STRUCTURED.labels(topic)  # the series exists before the records arrive

    def counted() -> float:
        value = REGISTRY.get_sample_value("triage_json_structured_events_total", {"topic": topic})
        assert value is not None
        return value

    before = counted()
    messages = [
        kafka.to_binary_event(SdkEvent(attributes=dict(ATTRS), data=_case("sdk-binary"))),
        kafka.to_structured_event(SdkEvent(attributes=dict(ATTRS), data=_case("sdk-structured"))),
        classic_to_structured(ClassicSdkEvent(dict(ATTRS), _case("sdk-classic"))),
    ]
    assert messages[2].headers == {"content-type": b"application/json"}
    container = make_container(tmp_path, bootstrap, topic_names)
    await container.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for m in messages:
                await producer.send(topic, m.value, key=m.key, headers=list(m.headers.items()))
            await producer.flush()
        finally:
            await producer.stop()
        triaged = await read_topic(bootstrap, topic_names["topic_triaged"], 3)
        runtime = container.runtime
        assert runtime is not None
        await wait_for(lambda: runtime.consumer is not None and runtime.consumer.processed >= 3)
    finally:
        await container.stop()
    refs = {
        CaseTriaged.model_validate(decode(r.value, r.headers).data).case.external_ref
        for r in triaged
    }
    assert refs == {"sdk-binary", "sdk-structured", "sdk-classic"}
    assert counted() - before == 1  # only the classic form
