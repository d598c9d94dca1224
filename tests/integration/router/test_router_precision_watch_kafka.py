"""The realised precision watch over the real broker: a squad whose automatic assignments
people keep correcting (through the router API) drops to `suggest`; Service Delivery hears of
it once; the squad's next case is escalated with the suggestion attached; a person restores
`auto` and the squad's cases are assigned again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest

from contracts import topics
from contracts.cases import (
    Candidate,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Recommendation,
    Reporter,
    ThresholdSource,
    TriageResult,
)
from contracts.envelope import CloudEvent
from contracts.events import CaseTriaged
from contracts.ids import new_id
from contracts.wire import decode, encode
from devkit.broker import LocalBroker
from devkit.testing import auth_headers

from .conftest import RunningRouter, running_router

pytestmark = pytest.mark.kafka

POLICY = """
version: 1
name: watched
precision_watch: {window_cases: 20, window_days: 7, min_cases: 4, margin: 0.1}
ack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}
"""


@pytest.fixture(scope="module")
def watched(
    broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRouter]:
    tmp = tmp_path_factory.mktemp("watched")
    (tmp / "policy.yaml").write_text(POLICY)
    with running_router(broker, tmp, policy_path=tmp / "policy.yaml") as app:
        yield app


def triaged(squad: str) -> tuple[UUID, tuple[bytes | None, bytes, list]]:
    """A confident case for `squad`: the model recommends it at 0.93 over its 0.8 threshold."""
    case_id, now = new_id(), datetime.now(UTC)
    rec = Recommendation(
        squad=squad,
        confidence=0.93,
        threshold=0.8,
        threshold_source=ThresholdSource.OWN,
        target_precision=0.9,
        meets_threshold=True,
        action=Decision.ASSIGN,
    )
    payload = CaseTriaged(
        case_id=case_id,
        received_at=now,
        triaged_at=now,
        case=CaseSubmission(title=f"{squad} problem", description="x", reporter=Reporter(name="A")),
        result=TriageResult(
            squad=squad,
            confidence=0.93,
            candidates=[Candidate(squad=squad, probability=0.93)],
            matched_components=[MatchedComponent(component=f"{squad}-api", owner=squad)],
            spans_squads=False,
            decision=Decision.ASSIGN,
            model_version="it-1",
            recommendation=rec,
        ),
    )
    event = CloudEvent.of(
        type=topics.CASE_TRIAGED,
        source="/support-triage/triage",
        subject=str(case_id),
        data=payload,
    )
    rec_ = encode(event, str(case_id))
    return case_id, (rec_.key, rec_.value, rec_.headers)


def routed(app: RunningRouter, case_id: UUID) -> dict:
    def check():
        r = app.get(f"/v1/cases/{case_id}")
        return r.json() if r.status_code == 200 else None

    return app.wait_for(check)


def demotions(app: RunningRouter) -> float:
    """`router_squad_demotions_total` of payments, from the router's /metrics."""
    prefix = 'router_squad_demotions_total{squad="payments"} '
    lines = [x for x in app.get("/metrics").text.splitlines() if x.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def demotion_messages(app: RunningRouter) -> list[dict]:
    return [
        r
        for r in app.sink.records(squad="service-delivery", channel="webhook")
        if (r["body"] or {}).get("kind") == "model_demoted"
    ]


async def test_falling_precision_demotes_the_squad_to_suggest(watched: RunningRouter) -> None:
    app = watched
    before = demotions(app)  # the metrics are the process's: other tests may have counted
    first = [triaged("payments") for _ in range(5)]
    await app.produce(app.bootstrap, app.settings.topic_triaged, [r for _, r in first])
    for case_id, _ in first:
        assert routed(app, case_id)["case"]["status"] == "assigned"

    # a triage lead corrects automatic assignments: 4 of 5 right (0.8) is at the floor
    # (0.9 - 0.1), 3 of 5 below it
    body = {"squad": "logistics", "by": "lead", "note": "belongs to logistics"}
    modes = []
    async with httpx.AsyncClient(headers=auth_headers(), base_url=app.url, timeout=10) as http:
        for case_id, _ in first[:2]:
            moved = await http.post(f"/v1/cases/{case_id}/assignment", json=body)
            assert moved.status_code == 200, moved.text
            modes.append((await http.get("/v1/squads/payments/precision")).json()["squad"]["mode"])
    assert modes == ["auto", "suggest"]

    listing = app.get("/v1/squads/precision").json()
    payments = next(i for i in listing["items"] if i["squad"] == "payments")
    assert payments["mode"] == "suggest" and payments["changed_by"] == "precision-watch"
    assert (payments["auto_assigned"], payments["corrected"]) == (5, 2)
    assert payments["realised_precision"] == 0.6 and payments["target_precision"] == 0.9

    # Service Delivery is told once, about the squad, with the figures
    (message,) = app.wait_for(lambda: demotion_messages(app))
    assert message["signature_valid"] is True
    assert message["body"]["about_squad"] == "payments"
    assert "realised precision 0.60 (2 of 5" in message["body"]["detail"]

    # the squad's next confident case goes to Service Delivery with the suggestion attached
    case_id, record = triaged("payments")
    await app.produce(app.bootstrap, app.settings.topic_triaged, [record])
    detail = app.wait_for(
        lambda: (
            (d := routed(app, case_id))["notifications"]
            and all(n["status"] == "sent" for n in d["notifications"])
            and d
        )
    )
    assert detail["case"]["status"] == "escalated"
    assert detail["case"]["escalation_reason"] == "suggest_mode"
    assert detail["case"]["suggested_squad"] == "payments"
    assert detail["case"]["model_mode"] == "suggest"
    assert "set by precision-watch" in detail["history"][0]["note"]
    hooks = [
        r
        for r in app.sink.records(squad="service-delivery", channel="webhook")
        if (r["body"] or {}).get("case_id") == str(case_id)
    ]
    assert [(h["body"]["kind"], h["body"]["suggested_squad"]) for h in hooks] == [
        ("escalated", "payments")
    ]
    lifecycle = await app.read_until(
        app.bootstrap,
        app.settings.topic_lifecycle,
        lambda recs: any(r.key == str(case_id).encode() for r in recs),
    )
    (escalated,) = [decode(r.value, r.headers) for r in lifecycle if r.key == str(case_id).encode()]
    assert escalated.type == topics.CASE_ESCALATED
    assert escalated.data["reason"] == "suggest_mode"
    assert escalated.data["suggestion"]["squad"] == "payments"
    assert len(demotion_messages(app)) == 1  # still once

    metrics = app.get("/metrics").text
    assert 'router_realised_precision{squad="payments"} 0.6' in metrics
    assert demotions(app) == before + 1

    # a person restores auto: recorded, and the squad's cases are assigned again
    body = {"mode": "auto", "by": "sd.lead", "note": "retrained"}
    async with httpx.AsyncClient(headers=auth_headers(), base_url=app.url, timeout=10) as http:
        restored = await http.post("/v1/squads/payments/mode", json=body)
    assert restored.status_code == 200, restored.text
    assert [h["to_mode"] for h in restored.json()["history"]] == ["suggest", "auto"]
    case_id, record = triaged("payments")
    await app.produce(app.bootstrap, app.settings.topic_triaged, [record])
    assert app.wait_for(lambda: routed(app, case_id)["case"]["status"] == "assigned")
