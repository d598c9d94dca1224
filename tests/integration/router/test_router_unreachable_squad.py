"""A squad with no channel, end to end: the router on the real broker assigns the case and
Service Delivery's real webhook receives the signed `unreachable_squad` message, once."""

from __future__ import annotations

import pytest

from tests.integration.router.test_router_service_kafka import case_in_api, record, triaged_event

pytestmark = pytest.mark.kafka


async def test_service_delivery_is_told_of_a_case_nobody_else_can_be(router_app):
    app = router_app
    case_id, event = triaged_event("quiet")

    await app.produce(app.bootstrap, app.settings.topic_triaged, [record(event)] * 2)

    detail = app.wait_for(
        case_in_api(app, case_id, lambda d: {n["status"] for n in d["notifications"]} == {"sent"})
    )
    assert detail["case"]["status"] == "assigned" and detail["case"]["squad"] == "quiet"
    assert [(n["squad"], n["kind"]) for n in detail["notifications"]] == [
        ("service-delivery", "unreachable_squad")
    ]
    assert [h["to_squad"] for h in detail["history"] if h["action"] == "unreachable"] == ["quiet"]
    hooks = [
        r
        for r in app.sink.records(squad="service-delivery", channel="webhook")
        if r["body"] and r["body"].get("case_id") == str(case_id)
    ]
    assert len(hooks) == 1 and hooks[0]["signature_valid"] is True
    body = hooks[0]["body"]
    assert body["kind"] == "unreachable_squad"
    assert body["unreachable_squad"] == "quiet"
    assert "quiet has no notification channel" in body["catalogue_problem"]
    assert hooks[0]["headers"]["x-support-triage-event"] == "unreachable_squad"
    ready = app.get("/readyz").json()
    assert ready["status"] == "ok"
    assert ready["warnings"] == ["squads with no notification channel: quiet"]


def test_the_hygiene_view_lists_the_squad(router_app):
    response = router_app.get("/v1/catalogue/hygiene", kind="squad_without_channel")
    assert response.status_code == 200
    body = response.json()
    assert [i["entity"] for i in body["items"]] == ["group:default/quiet"]
    assert body["counts"]["squad_without_channel"] == 1
    metrics = router_app.get("/metrics").text
    assert 'catalogue_problems{kind="squad_without_channel"} 1.0' in metrics
