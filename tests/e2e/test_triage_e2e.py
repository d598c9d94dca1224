"""`triage serve` as a real process: HTTP in, Kafka out; Kafka in, Kafka out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import CloudEvent
from contracts.events import CaseTriaged
from contracts.topics import CASE_RECEIVED
from contracts.wire import decode, encode
from devkit.broker import LocalBroker, free_port
from devkit.testing import auth_headers, stop_process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "catalogue"
CASE = {
    "title": "Checkout fails",
    "description": "The checkout page errors when I place order",
    "reporter": {"name": "Ada"},
}


@pytest.fixture
def served(tmp_path: Path, broker: LocalBroker) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    topics = {"received": f"e2e-received-{tag}", "triaged": f"e2e-triaged-{tag}"}
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'triage.db'}",
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKA_CONSUMER_GROUP": f"e2e-{tag}",
        "TOPIC_RECEIVED": topics["received"],
        "TOPIC_TRIAGED": topics["triaged"],
        "TOPIC_LIFECYCLE": f"e2e-lifecycle-{tag}",
        "TOPIC_DEADLETTER": f"e2e-deadletter-{tag}",
        "CATALOGUE_PATH": str(DEMO),
        "MODEL_DIR": str(tmp_path / "model"),
    }
    cmd = [
        sys.executable,
        "-c",
        "from triage.cli import main; main()",
        "serve",
        "--port",
        str(port),
    ]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # generous: slow starts under load
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        yield base, topics
    finally:
        stop_process(proc)
        log.close()
    # uvicorn re-raises the signal after its graceful shutdown
    output = (tmp_path / "serve.log").read_text()
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output


async def triaged_events(bootstrap: str, topic: str, count: int) -> list[CaseTriaged]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert tps, f"no topic {topic}"
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[CaseTriaged] = []
        deadline = time.monotonic() + 40
        while len(out) < count and time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=300)).values():
                out += [CaseTriaged.model_validate(decode(r.value, r.headers).data) for r in recs]
        return out
    finally:
        await consumer.stop()


async def test_http_and_kafka_in_triaged_events_out(
    served: tuple[str, dict[str, str]], broker: LocalBroker
) -> None:
    base, topics = served
    async with httpx.AsyncClient(headers=auth_headers(), base_url=base) as http:
        resp = await http.post("/v1/cases", json=CASE)
    assert resp.status_code == 201
    case_id = resp.json()["id"]

    event = CloudEvent(type=CASE_RECEIVED, source="/e2e", data={**CASE, "external_ref": "E2E-1"})
    rec = encode(event, "e2e")
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics["received"], rec.value, key=rec.key, headers=rec.headers
        )
    finally:
        await producer.stop()

    got = await triaged_events(broker.bootstrap_servers, topics["triaged"], 2)
    by_ref = {e.case.external_ref: e for e in got}
    assert set(by_ref) == {None, "E2E-1"}
    assert str(by_ref[None].case_id) == case_id
    assert by_ref["E2E-1"].result.squad == by_ref[None].result.squad == "checkout"
    async with httpx.AsyncClient(headers=auth_headers(), base_url=base) as http:
        stored = (await http.get(f"/v1/cases/{by_ref['E2E-1'].case_id}")).json()
    assert stored["submission"]["external_ref"] == "E2E-1"
