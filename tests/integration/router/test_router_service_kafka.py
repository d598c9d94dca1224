"""The router end to end over the real broker, a SQLite file and the dev sink: route, publish,
notify (signed), dead-letter, de-duplicate, retry then fail, and isolate a hanging webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from contracts import topics
from contracts.cases import (
    Candidate,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Reporter,
    TriageResult,
)
from contracts.envelope import CloudEvent
from contracts.events import CaseTriaged
from contracts.ids import new_id
from contracts.wire import decode, encode

pytestmark = pytest.mark.kafka


def triaged_event(squad: str, *, case_id: UUID | None = None) -> tuple[UUID, CloudEvent]:
    case_id = case_id or new_id()
    now = datetime.now(UTC)
    payload = CaseTriaged(
        case_id=case_id,
        received_at=now,
        triaged_at=now,
        case=CaseSubmission(title=f"{squad} problem", description="x", reporter=Reporter(name="A")),
        result=TriageResult(
            squad=squad,
            confidence=0.95,
            candidates=[Candidate(squad=squad, probability=0.95)],
            matched_components=[MatchedComponent(component=f"{squad}-api", owner=squad)],
            spans_squads=False,
            decision=Decision.ASSIGN,
            model_version="it-1",
        ),
    )
    event = CloudEvent.of(
        type=topics.CASE_TRIAGED,
        source="/support-triage/triage",
        subject=str(case_id),
        data=payload,
    )
    return case_id, event


def record(event: CloudEvent, key: str | None = None) -> tuple[bytes | None, bytes, list]:
    rec = encode(event, key or event.subject)
    return rec.key, rec.value, rec.headers


def case_in_api(app, case_id: UUID, predicate=lambda d: True):
    def check():
        response = app.get(f"/v1/cases/{case_id}")
        return (
            response.json() if response.status_code == 200 and predicate(response.json()) else None
        )

    return check


async def test_triaged_case_is_assigned_published_and_notified_once(router_app):
    app = router_app
    case_id, event = triaged_event("payments")

    await app.produce(app.bootstrap, app.settings.topic_triaged, [record(event)])

    detail = app.wait_for(
        case_in_api(app, case_id, lambda d: {n["status"] for n in d["notifications"]} == {"sent"})
    )
    assert detail["case"]["status"] == "assigned" and detail["case"]["squad"] == "payments"
    lifecycle = await app.read_until(
        app.bootstrap,
        app.settings.topic_lifecycle,
        lambda recs: any(r.key == str(case_id).encode() for r in recs),
    )
    mine = [decode(r.value, r.headers) for r in lifecycle if r.key == str(case_id).encode()]
    assert [e.type for e in mine] == [topics.CASE_ASSIGNED]
    assert mine[0].source == "/support-triage/router" and mine[0].subject == str(case_id)
    hooks = [
        r
        for r in app.sink.records(squad="payments", channel="webhook")
        if r["body"] and r["body"].get("case_id") == str(case_id)
    ]
    assert len(hooks) == 1 and hooks[0]["signature_valid"] is True
    mails = [r for r in app.sink.records(channel="email") if str(case_id) in str(r)]
    assert len(mails) == 1


async def test_invalid_messages_are_dead_lettered_with_a_reason(router_app):
    app = router_app
    _, wrong_type = triaged_event("payments")
    wrong_type = wrong_type.model_copy(update={"type": "support.case.received.v1"})

    await app.produce(
        app.bootstrap,
        app.settings.topic_triaged,
        [(b"k1", b"{not json", [("ce_specversion", b"1.0")]), record(wrong_type)],
    )

    dead = await app.read_until(
        app.bootstrap, app.settings.topic_deadletter, lambda recs: len(recs) >= 2
    )
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in dead)
    assert reasons == ["invalid_json", "unexpected_type"]


async def test_a_duplicate_event_is_processed_once(router_app):
    app = router_app
    case_id, event = triaged_event("logistics")
    marker_id, marker = triaged_event("logistics")
    key = str(case_id)  # same key: same partition, so the marker comes after both copies

    await app.produce(
        app.bootstrap,
        app.settings.topic_triaged,
        [record(event, key), record(event, key), record(marker, key)],
    )

    app.wait_for(case_in_api(app, marker_id))
    detail = app.wait_for(case_in_api(app, case_id))
    assert [h["action"] for h in detail["history"]] == ["assigned"]
    assert len(detail["notifications"]) == 1


async def test_a_failing_webhook_is_retried_then_failed_visible_in_the_api(router_app):
    app = router_app
    case_id, event = triaged_event("checkout")

    await app.produce(app.bootstrap, app.settings.topic_triaged, [record(event)])

    detail = app.wait_for(
        case_in_api(
            app,
            case_id,
            lambda d: d["notifications"][:1] and d["notifications"][0]["status"] == "failed",
        )
    )
    (note,) = detail["notifications"]
    assert note["attempts"] == 2 and "server_error" in note["last_error"]
    calls = [
        r for r in app.sink.records(squad="checkout-broken") if r["body"]["case_id"] == str(case_id)
    ]
    assert len(calls) == 2


async def test_a_hanging_webhook_does_not_delay_another_squad(router_app):
    app = router_app
    hanging_id, hanging = triaged_event("search")
    quick_id, quick = triaged_event("logistics")

    await app.produce(app.bootstrap, app.settings.topic_triaged, [record(hanging)])
    app.wait_for(lambda: app.sink.records(squad="search-hanging"))  # the hanging call is open
    await app.produce(app.bootstrap, app.settings.topic_triaged, [record(quick)])

    app.wait_for(case_in_api(app, quick_id, lambda d: d["notifications"][0]["status"] == "sent"))
    hanging_detail = app.get(f"/v1/cases/{hanging_id}").json()
    assert hanging_detail["notifications"][0]["status"] != "sent"
