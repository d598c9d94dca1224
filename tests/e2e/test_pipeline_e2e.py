"""A case entering triage reaches a human through the router: real processes end to end.

`triage serve` and `router serve` run as subprocesses on one broker (see `conftest.pipeline`);
notifications land on the dev sink. Every scenario is checked through the router's API and on
the lifecycle topic. Expected squads come from the catalogue (the owner of the component the
case names), never from the services under test. Waits poll with a deadline; nothing asserts
on time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts import CloudEvent
from contracts.envelope import STRUCTURED
from contracts.events import (
    EVENT_TYPES,
    CaseAssigned,
    CaseEscalated,
    CaseReassigned,
    CaseTriaged,
    SwarmOpened,
)
from contracts.topics import (
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    CASE_RECEIVED,
    LIFECYCLE_TYPES,
    SWARM_OPENED,
)
from contracts.wire import decode, encode
from devkit.testing import auth_headers
from router.adapters.notifications.signing import SIGNATURE_HEADER, verify

if TYPE_CHECKING:
    from conftest import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("pipeline-e2e")]

WITHIN = 30.0
T = TypeVar("T")
Json = dict[str, Any]
SERVICE_DELIVERY = "service-delivery"


# --- helpers -------------------------------------------------------------------------------


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Call `probe` until it answers something other than None, for up to `WITHIN` s."""
    deadline = time.monotonic() + WITHIN
    while True:
        got = await probe()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {WITHIN:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


async def read_topic(
    p: Pipeline, topic: str, done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the beginning (no consumer group) until `done(records)`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=p.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata
        parts = consumer.partitions_for_topic(topic)
        assert parts, f"no topic {topic}"
        tps = [TopicPartition(topic, n) for n in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + WITHIN
        while not done(records):
            assert time.monotonic() < deadline, f"{topic}: condition unmet by {len(records)} recs"
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def lifecycle(
    p: Pipeline, case_id: str, done: Callable[[list[CloudEvent]], bool]
) -> list[CloudEvent]:
    """The lifecycle events of one case, once `done(events)` holds; checks the Kafka key."""

    def of_case(records: list[ConsumerRecord[bytes, bytes]]) -> list[CloudEvent]:
        events = [(r, decode(r.value, r.headers)) for r in records]
        mine = [(r, e) for r, e in events if e.data.get("case_id") == case_id]
        assert all(r.key == case_id.encode() for r, _ in mine), "lifecycle event not keyed by case"
        for _, event in mine:  # every event honours its contract
            assert event.type in LIFECYCLE_TYPES, event.type
            EVENT_TYPES[event.type].model_validate(event.data)
        return [e for _, e in mine]

    return of_case(await read_topic(p, p.topics.lifecycle, lambda rs: done(of_case(rs))))


def of_type(events: list[CloudEvent], type_: str) -> list[Json]:
    """The `data` of the events of one CloudEvents type."""
    return [e.data for e in events if e.type == type_]


async def submit_case(
    http: httpx.AsyncClient, p: Pipeline, title: str, description: str, **kw: Any
) -> Json:
    """POST a case to triage; return the stored case with its triage result."""
    body = {"title": title, "description": description, "reporter": {"name": "E2E"}, **kw}
    resp = await http.post(f"{p.triage.url}/v1/cases", json=body)
    assert resp.status_code == 201, resp.text
    case: Json = resp.json()
    return case


async def submit(
    http: httpx.AsyncClient, p: Pipeline, title: str, description: str, **kw: Any
) -> str:
    """POST a case to triage; return its id."""
    return str((await submit_case(http, p, title, description, **kw))["id"])


async def router_case(
    http: httpx.AsyncClient, p: Pipeline, case_id: str, done: Callable[[Json], bool]
) -> Json:
    """`GET /v1/cases/{id}` on the router, once the case exists and `done(detail)`."""
    seen: list[Json] = []

    async def probe() -> Json | None:
        resp = await http.get(f"{p.router.url}/v1/cases/{case_id}")
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, resp.text
        seen[:] = [resp.json()]
        return seen[0] if done(seen[0]) else None

    try:
        return await eventually(probe, f"router case {case_id}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen}") from None


def delivered(detail: Json) -> bool:
    """Every notification of the case went out."""
    notes = detail["notifications"]
    return bool(notes) and all(n["status"] == "sent" for n in notes)


def hooks(p: Pipeline, squad: str, case_id: str, kind: str | None = None) -> list[Json]:
    """Webhook calls the sink received for a squad about a case."""
    return [
        r
        for r in p.sink.records(squad=squad, channel="webhook")
        if (r["body"] or {}).get("case_id") == case_id
        and (kind is None or r["body"].get("kind") == kind)
    ]


def signed(record: Json, secret: str) -> bool:
    """Whether a webhook call carries a valid signature for `secret`."""
    header = record["headers"].get(SIGNATURE_HEADER.lower(), "")
    return verify(record["raw"].encode(), secret, header, now=int(time.time()))


async def produce(p: Pipeline, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    """Send one record to triage's input topic and wait for the ack."""
    producer = AIOKafkaProducer(bootstrap_servers=p.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(p.topics.received, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def triaged_case_id(p: Pipeline, external_ref: str) -> str:
    """The case id triage gave the case with `external_ref` (read off the triaged topic)."""

    def matching(records: list[ConsumerRecord[bytes, bytes]]) -> list[CaseTriaged]:
        events = [CaseTriaged.model_validate(decode(r.value, r.headers).data) for r in records]
        return [e for e in events if e.case.external_ref == external_ref]

    found = matching(await read_topic(p, p.topics.triaged, lambda rs: bool(matching(rs))))
    assert len(found) == 1, found
    return str(found[0].case_id)


def owner(p: Pipeline, component: str) -> str:
    """The owning squad of a component, per the catalogue (which must name one)."""
    squad = p.catalogue.components[component].owner
    assert squad, f"{component} has no owner in the catalogue"
    return squad


# --- scenarios -----------------------------------------------------------------------------


async def test_clear_case_is_assigned_to_its_owner_and_notified_once(pipeline: Pipeline) -> None:
    squad = owner(pipeline, "refund-service")
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        triaged = await submit_case(
            http,
            pipeline,
            "Refund not received",
            "I cancelled my order two weeks ago and the refund is still pending, "
            "money back has not arrived",
        )
        case_id = str(triaged["id"])
        detail = await router_case(http, pipeline, case_id, delivered)
        [call] = hooks(pipeline, squad, case_id)
        link = await http.get(call["body"]["case_url"])  # where the squad acts on it
    assert detail["case"]["status"] == "assigned"
    assert detail["case"]["squad"] == squad
    assert detail["case"]["ack_deadline"] is not None
    # the router's read model carries triage's prediction unchanged
    assert detail["case"]["predicted_squad"] == triaged["triage"]["squad"] == squad
    assert detail["case"]["confidence"] == triaged["triage"]["confidence"]
    assert link.status_code == 200 and link.json()["case"]["id"] == case_id

    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ASSIGNED)))
    [assigned] = [CaseAssigned.model_validate(d) for d in of_type(events, CASE_ASSIGNED)]
    assert (assigned.squad, assigned.by) == (squad, "router")
    assert assigned.confidence == triaged["triage"]["confidence"]
    assert not of_type(events, CASE_ESCALATED)

    assert call["body"]["kind"] == "assigned"
    assert call["signature_valid"] is True
    assert signed(call, pipeline.secret)
    assert not signed(call, "another-secret")
    emails = [
        r
        for r in pipeline.sink.records(squad=squad, channel="email")
        if "Refund not received" in r["title"]
    ]
    assert len(emails) == 1


async def test_unowned_component_escalates_to_service_delivery(pipeline: Pipeline) -> None:
    assert pipeline.catalogue.components["legacy-cms"].owner is None
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        case_id = await submit(
            http,
            pipeline,
            "Help centre article is blank",
            "The help centre article in the legacy CMS shows a blank page",
        )
        detail = await router_case(http, pipeline, case_id, delivered)
    assert detail["case"]["status"] in ("escalated", "swarming")
    assert detail["case"]["escalation_reason"] == "unowned"
    assert detail["case"]["squad"] is None

    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ESCALATED)))
    [escalated] = [CaseEscalated.model_validate(d) for d in of_type(events, CASE_ESCALATED)]
    assert escalated.reason == "unowned"
    assert not of_type(events, CASE_ASSIGNED)

    [call] = hooks(pipeline, SERVICE_DELIVERY, case_id, kind="escalated")
    assert call["body"]["reason"] == "unowned"
    assert signed(call, pipeline.secret)


async def test_components_of_two_squads_open_a_swarm_with_both(pipeline: Pipeline) -> None:
    squads = {owner(pipeline, "refund-service"), owner(pipeline, "promo-engine")}
    assert len(squads) == 2
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        case_id = await submit(
            http,
            pipeline,
            "Refund pending and voucher rejected",
            "The refund service still shows my deposit refund as pending, and the promotions "
            "engine rejects my voucher code",
        )
        detail = await router_case(http, pipeline, case_id, delivered)
        assert detail["case"]["status"] == "swarming"
        assert detail["case"]["escalation_reason"] == "cross_squad"

        events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, SWARM_OPENED)))
        [opened] = [SwarmOpened.model_validate(d) for d in of_type(events, SWARM_OPENED)]
        assert opened.reason == "cross_squad"
        assert squads <= set(opened.squads)
        [escalated] = of_type(events, CASE_ESCALATED)
        assert escalated["reason"] == "cross_squad"

        resp = await http.get(f"{pipeline.router.url}/v1/swarms/{opened.swarm_id}")
    assert resp.status_code == 200, resp.text
    swarm = resp.json()
    assert swarm["case_id"] == case_id and swarm["status"] == "open"
    members = {m["squad"] for m in swarm["members"]}
    assert squads <= members
    assert members <= set(pipeline.catalogue.owning_squads)
    for squad in squads:
        assert len(hooks(pipeline, squad, case_id, kind="swarm_opened")) == 1
    assert len(hooks(pipeline, SERVICE_DELIVERY, case_id, kind="escalated")) == 1


async def test_p1_escalates_as_major_incident(pipeline: Pipeline) -> None:
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        case_id = await submit(
            http,
            pipeline,
            "Invoice has wrong billing address",
            "The invoice shows my old billing address",
            priority="P1",
        )
        detail = await router_case(http, pipeline, case_id, delivered)
    assert detail["case"]["escalation_reason"] == "major_incident"
    assert detail["case"]["squad"] is None

    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ESCALATED)))
    [escalated] = of_type(events, CASE_ESCALATED)
    assert escalated["reason"] == "major_incident"
    assert not of_type(events, CASE_ASSIGNED)
    assert len(hooks(pipeline, SERVICE_DELIVERY, case_id, kind="escalated")) == 1


def _labels(p: Pipeline, case_id: str) -> list[tuple[str, str]] | None:
    """(squad, source) of triage's training labels for a case, read-only from its DB file."""
    with sqlite3.connect(f"file:{p.triage_db}?mode=ro", uri=True, timeout=5) as db:
        rows = db.execute("SELECT case_id, squad, source FROM triage_labels").fetchall()
    found = [
        (squad, source) for cid, squad, source in rows if uuid.UUID(str(cid)) == uuid.UUID(case_id)
    ]
    return found or None


async def test_manual_reassignment_becomes_a_training_label(pipeline: Pipeline) -> None:
    first = owner(pipeline, "invoice-service")
    target = next(s for s in pipeline.catalogue.owning_squads if s != first)
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        case_id = await submit(
            http, pipeline, "Receipt never arrived", "I paid but got no receipt or invoice pdf"
        )
        detail = await router_case(http, pipeline, case_id, lambda d: d["case"]["squad"] == first)
        assert detail["case"]["status"] == "assigned"
        resp = await http.post(  # who acted is the key's principal, not the body's `by`
            f"{pipeline.router.url}/v1/cases/{case_id}/assignment",
            json={"squad": target, "by": "e2e.lead", "note": "receipts are theirs"},
            headers=auth_headers("triager"),
        )
        assert resp.status_code == 200, resp.text
        assert (resp.json()["squad"], resp.json()["status"]) == (target, "assigned")
        # the reassignment queued the new squad's notifications before answering
        detail = await router_case(http, pipeline, case_id, delivered)
    assert {n["squad"] for n in detail["notifications"]} == {first, target}

    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_REASSIGNED)))
    [moved] = [CaseReassigned.model_validate(d) for d in of_type(events, CASE_REASSIGNED)]
    assert (moved.from_squad, moved.to_squad, moved.by) == (first, target, "triager")
    assert moved.predicted_squad == first
    assigned = [CaseAssigned.model_validate(d) for d in of_type(events, CASE_ASSIGNED)]
    assert [(a.squad, a.by) for a in assigned] == [(first, "router"), (target, "triager")]
    assert len(hooks(pipeline, target, case_id, kind="reassigned")) == 1

    async def label() -> list[tuple[str, str]] | None:
        return await asyncio.to_thread(_labels, pipeline, case_id)

    assert await eventually(label, "triage's training label") == [(target, "correction")]


async def test_unacknowledged_case_escalates_once_after_its_deadline(pipeline: Pipeline) -> None:
    squad = owner(pipeline, "promo-engine")
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        policy = (await http.get(f"{pipeline.router.url}/v1/policy")).json()
        assert policy["ack_deadlines"][pipeline.ack_priority] == "1s"
        case_id = await submit(
            http,
            pipeline,
            "Coupon not applied",
            "My coupon does not give the campaign discount",
            priority=pipeline.ack_priority,
        )
        detail = await router_case(http, pipeline, case_id, lambda d: d["case"]["squad"] == squad)
        assert detail["case"]["status"] == "assigned"

        async def sweep() -> int:
            resp = await http.post(f"{pipeline.router.url}/v1/admin/sweep")
            assert resp.status_code == 200, resp.text
            return int(resp.json()["escalated"])

        async def swept_once() -> int | None:
            return await sweep() or None  # None until the deadline has passed

        assert await eventually(swept_once, "the ack-timeout sweep") == 1
        assert await sweep() == 0
        assert await sweep() == 0
        detail = await router_case(http, pipeline, case_id, delivered)

    assert (detail["case"]["status"], detail["case"]["escalation_reason"]) == (
        "escalated",
        "ack_timeout",
    )
    timeouts = [h for h in detail["history"] if h["reason"] == "ack_timeout"]
    assert len(timeouts) == 1
    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ESCALATED)))
    escalations = of_type(events, CASE_ESCALATED)
    assert [e["reason"] for e in escalations] == ["ack_timeout"]
    assert escalations[0]["squads"] == [squad]
    assert len(hooks(pipeline, SERVICE_DELIVERY, case_id, kind="ack_timeout")) == 1


async def test_structured_cloudevent_on_input_topic_is_assigned(pipeline: Pipeline) -> None:
    squad = owner(pipeline, "promo-engine")
    ref = f"CRM-{uuid.uuid4().hex[:10]}"
    event = CloudEvent(
        type=CASE_RECEIVED,
        source="/e2e/crm",
        datacontenttype="application/json",
        data={
            "title": "Promo code rejected",
            "description": "The promo code from the newsletter is rejected when I apply it",
            "reporter": {"email": "ce@example.com"},
            "source": "crm",
            "external_ref": ref,
        },
    )
    await produce(
        pipeline,
        ref.encode(),
        event.model_dump_json().encode(),
        [("content-type", STRUCTURED.encode())],
    )
    case_id = await triaged_case_id(pipeline, ref)
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        detail = await router_case(http, pipeline, case_id, delivered)
        stored = (await http.get(f"{pipeline.triage.url}/v1/cases/{case_id}")).json()
    assert stored["submission"]["external_ref"] == ref
    assert (detail["case"]["status"], detail["case"]["squad"]) == ("assigned", squad)
    assert detail["case"]["source"] == "crm"
    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ASSIGNED)))
    assert [e["squad"] for e in of_type(events, CASE_ASSIGNED)] == [squad]
    assert len(hooks(pipeline, squad, case_id, kind="assigned")) == 1


async def test_invalid_input_is_dead_lettered_and_the_next_case_flows(pipeline: Pipeline) -> None:
    tag = uuid.uuid4().hex[:8]
    not_json = (f"bad-json-{tag}".encode(), b"{not json")
    ce = CloudEvent(type=CASE_RECEIVED, source="/e2e", data={"title": "no reporter"})
    no_reporter = encode(ce, f"bad-data-{tag}")
    await produce(pipeline, not_json[0], not_json[1], encode(ce).headers)
    await produce(pipeline, no_reporter.key or b"", no_reporter.value, no_reporter.headers)
    ref = f"API-{tag}"
    good = encode(
        CloudEvent(
            type=CASE_RECEIVED,
            source="/e2e",
            data={
                "title": "Refund for cancelled order",
                "description": "Where is my money back for the cancelled order",
                "reporter": {"name": "E2E"},
                "external_ref": ref,
            },
        ),
        ref,
    )
    await produce(pipeline, good.key or b"", good.value, good.headers)

    keys = {not_json[0], no_reporter.key}

    def dead(records: list[ConsumerRecord[bytes, bytes]]) -> list[ConsumerRecord[bytes, bytes]]:
        return [r for r in records if r.key in keys]

    letters = dead(
        await read_topic(pipeline, pipeline.topics.deadletter, lambda rs: len(dead(rs)) == 2)
    )
    by_key = {r.key: (r, dict(r.headers)) for r in letters}
    record, headers = by_key[not_json[0]]
    assert headers["dlq_reason"] == b"invalid_json"
    assert record.value == not_json[1]
    record, headers = by_key[no_reporter.key]
    assert headers["dlq_reason"] == b"invalid_data"
    assert b"reporter" in headers["dlq_error"]
    for _, headers in by_key.values():
        assert headers["dlq_service"] == b"triage"
        assert headers["dlq_topic"] == pipeline.topics.received.encode()

    case_id = await triaged_case_id(pipeline, ref)
    squad = owner(pipeline, "refund-service")
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as http:
        detail = await router_case(http, pipeline, case_id, delivered)
    assert (detail["case"]["status"], detail["case"]["squad"]) == ("assigned", squad)
    events = await lifecycle(pipeline, case_id, lambda es: bool(of_type(es, CASE_ASSIGNED)))
    assert [e["squad"] for e in of_type(events, CASE_ASSIGNED)] == [squad]
