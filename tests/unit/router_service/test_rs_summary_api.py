"""Service Delivery figures from a known history, and the API's edges (problem+json)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from devkit.testing import auth_headers
from router.domain.lifecycle import LifecycleStatus
from router.entrypoints.http import create_app
from router.records import CaseRecord, HistoryAction, HistoryEntry
from router.service.queries import percentile, summarize

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _case(status, squad, received=NOW):
    return CaseRecord(
        id=uuid4(),
        title="t",
        description="d",
        priority="P3",
        source="web",
        received_at=received,
        status=status,
        squad=squad,
        updated_at=received,
    )


def _h(case, minutes, action, *, to=None, by="router", reason=None):
    return HistoryEntry(
        case_id=case.id,
        at=NOW + timedelta(minutes=minutes),
        action=action,
        to_squad=to,
        by=by,
        reason=reason,
    )


def test_summary_figures_from_a_known_history():
    a = _case(LifecycleStatus.ACKNOWLEDGED, "payments")  # auto, owner after 1 min
    b = _case(LifecycleStatus.ASSIGNED, "checkout")  # auto to payments, moved after 10 min
    c = _case(LifecycleStatus.ASSIGNED, "search")  # escalated, assigned by a person at 20
    d = _case(LifecycleStatus.SWARMING, None)  # cross-squad swarm, no owner yet
    history = [
        _h(a, 1, HistoryAction.ASSIGNED, to="payments"),
        _h(a, 5, HistoryAction.ACKNOWLEDGED, to="payments", by="pat"),
        _h(b, 0.5, HistoryAction.ASSIGNED, to="payments"),
        _h(b, 10, HistoryAction.REASSIGNED, to="checkout", by="sam"),
        _h(c, 0.2, HistoryAction.ESCALATED, reason="low_confidence"),
        _h(c, 20, HistoryAction.ASSIGNED, to="search", by="sd"),
        _h(d, 0.1, HistoryAction.ESCALATED, reason="cross_squad"),
        _h(d, 0.1, HistoryAction.SWARM_OPENED, reason="cross_squad"),
    ]

    s = summarize([a, b, c, d], history, open_swarms=1, since=None)

    assert (s.cases_routed, s.auto_assigned, s.auto_assign_rate) == (4, 2, 0.5)
    assert (s.escalated, s.escalation_rate) == (2, 0.5)
    assert s.escalation_rate_by_reason == {"cross_squad": 0.25, "low_confidence": 0.25}
    assert s.reassigned == 1 and s.misroute_rate == round(1 / 3, 4)
    assert s.time_to_owner_p50_seconds == 600.0
    assert s.time_to_owner_p90_seconds == 1200.0
    assert s.open_swarms == 1


def test_percentile_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.9) == 4.0


@pytest.fixture
async def api(container):
    app = create_app(container, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router.test"
    ) as client:
        yield client


async def test_queue_is_least_confident_then_oldest_and_pages(api, container, make_triaged):
    items = [
        make_triaged(confidence=0.3, received_at=NOW - timedelta(minutes=1)),
        make_triaged(confidence=0.3, received_at=NOW - timedelta(minutes=9)),
        make_triaged(confidence=0.95),
        make_triaged(confidence=0.5),
    ]
    container.route(items)
    expected = [items[1][1].case_id, items[0][1].case_id, items[3][1].case_id, items[2][1].case_id]

    first = (await api.get("/v1/cases", params={"limit": 3})).json()
    second = await api.get("/v1/cases", params={"limit": 3, "cursor": first["next_cursor"]})

    ids = [c["id"] for c in first["items"]] + [c["id"] for c in second.json()["items"]]
    assert ids == [str(i) for i in expected]
    assert second.json()["next_cursor"] is None
    escalated = await api.get("/v1/cases", params={"status": "escalated"})
    assert {c["escalation_reason"] for c in escalated.json()["items"]} == {"low_confidence"}
    old = await api.get("/v1/cases", params={"older_than_minutes": 5})
    assert [c["id"] for c in old.json()["items"]] == [str(items[1][1].case_id)]


async def test_case_detail_and_manual_flow_over_http(api, container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    url = f"/v1/cases/{triaged.case_id}"

    detail = (await api.get(url)).json()
    assert detail["case"]["squad"] == "payments"
    assert {n["status"] for n in detail["notifications"]} == {"queued"}
    assert all("address" not in n for n in detail["notifications"])

    moved = await api.post(url + "/assignment", json={"squad": "checkout", "by": "sam"})
    assert moved.status_code == 200 and moved.json()["moved_away_from"] == ["payments"]
    again = await api.post(url + "/acknowledge", json={"squad": "payments", "by": "p"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "invalid_transition"


async def test_bad_inputs_are_problems_naming_the_field(api, container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    url = f"/v1/cases/{triaged.case_id}/assignment"

    missing = await api.post(url, json={"by": "sam"})
    assert missing.status_code == 422
    assert [e["loc"] for e in missing.json()["errors"]] == ["body.squad"]
    unknown = await api.post(url, json={"squad": "nobody", "by": "sam"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_squad"
    assert unknown.json()["errors"][0]["loc"] == "body.squad"
    bad_id = await api.get("/v1/cases/not-a-uuid")
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["loc"] == "path.case_id"
    absent = await api.get(f"/v1/cases/{uuid4()}")
    assert absent.status_code == 404 and absent.json()["code"] == "case_not_found"
    no_swarm = await api.get(f"/v1/swarms/{uuid4()}")
    assert no_swarm.status_code == 404 and no_swarm.json()["code"] == "swarm_not_found"
    cursor = await api.get("/v1/cases", params={"cursor": "abc"})
    assert cursor.status_code == 422 and cursor.json()["errors"][0]["loc"] == "query.cursor"
    naive = await api.get("/v1/metrics/summary", params={"since": "2026-03-01T00:00:00"})
    assert naive.status_code == 422


async def test_policy_validate_lists_every_bad_field(api):
    bad = await api.post(
        "/v1/policy/validate",
        content=b"version: 1\nname: x\nthresholds: {default: 2}\nack_deadlines: {P1: soon}\n",
        headers={"content-type": "application/yaml"},
    )
    assert bad.status_code == 422
    locs = {e["loc"] for e in bad.json()["errors"]}
    assert "thresholds.default" in locs and any(loc.startswith("ack_deadlines") for loc in locs)
    good = await api.post(
        "/v1/policy/validate",
        content=b"version: 1\nname: strict\nthresholds: {squads: {ghosts: 0.9}}\n"
        b"ack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n",
    )
    assert good.status_code == 200
    assert good.json()["ok"] is True and good.json()["unknown_squads"] == ["ghosts"]


async def test_swarm_endpoints_and_sweep_and_summary(api, container, make_triaged, clock):
    cross = make_triaged(
        confidence=0.5,
        candidates=[("payments", 0.5), ("checkout", 0.45)],
        components=[("payment-gateway", "payments"), ("checkout-api", "checkout")],
    )
    plain = make_triaged()
    container.route([cross, plain])
    page = (await api.get("/v1/swarms", params={"status": "open"})).json()
    assert page["next_cursor"] is None
    swarms = page["items"]
    assert len(swarms) == 1
    sid = swarms[0]["id"]
    note = await api.post(f"/v1/swarms/{sid}/notes", json={"author": "sd", "text": "looking"})
    assert note.status_code == 200
    closed = await api.post(
        f"/v1/swarms/{sid}/close", json={"owner_squad": "payments", "outcome": "psp", "by": "sd"}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    late = await api.post(f"/v1/swarms/{sid}/members", json={"squad": "search", "by": "sd"})
    assert late.status_code == 409 and late.json()["code"] == "swarm_closed"

    clock.advance(timedelta(days=1))
    assert (await api.post("/v1/admin/sweep")).json() == {"escalated": 2}
    summary = (await api.get("/v1/metrics/summary")).json()
    assert summary["cases_routed"] == 2 and summary["open_swarms"] == 0
    assert summary["escalations_by_reason"] == {"ack_timeout": 2, "cross_squad": 1}


async def test_every_operation_is_documented_for_swagger_ui(api):
    spec = (await api.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary") and op.get("description"), where
            assert op.get("tags"), where
            if path.startswith("/v1/"):
                assert {"404", "409", "422"} <= set(op["responses"]), where


async def test_catalogue_hides_channel_addresses_and_metrics_are_exposed(
    api, container, make_triaged
):
    container.route([make_triaged()])
    body = (await api.get("/v1/catalogue")).text
    assert "hooks.test" not in body and "payments@example.com" not in body
    assert '"webhook"' in body
    metrics = (await api.get("/metrics")).text
    assert "router_cases_assigned_total" in metrics
    assert (await api.get("/healthz")).json() == {"status": "ok", "checks": {}, "warnings": []}
    ready = await api.get("/readyz")  # the Kafka side is not started in unit tests
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"] == "connecting"


async def test_swagger_ui_assets_are_served_locally(api):
    html = (await api.get("/docs")).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert (await api.get(asset)).status_code == 200
