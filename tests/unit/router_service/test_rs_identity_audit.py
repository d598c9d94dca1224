"""Who acted comes from the credential: the body's `by` is ignored, the history, the
lifecycle events and the audit log name the authenticated principal; only admins read the
audit log, which pages and filters."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from devkit.testing import auth_headers
from router.entrypoints.http import create_app


@pytest.fixture
async def api(container):
    app = create_app(container, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router.test") as client:
        yield client


async def test_the_principal_not_the_body_is_who_reassigned(api, container, make_triaged, outbox):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    case = f"/v1/cases/{triaged.case_id}"
    moved = await api.post(
        case + "/assignment",
        json={"squad": "checkout", "by": "someone.else", "note": "checkout owns it"},
        headers=auth_headers("triager"),
    )
    assert moved.status_code == 200, moved.text
    detail = (await api.get(case, headers=auth_headers("triager"))).json()
    assert [h["by"] for h in detail["history"]] == ["router", "triager"]
    reassigned = [e for _t, _k, e in outbox(container) if e.type == "support.case.reassigned.v1"]
    assert [e.data["by"] for e in reassigned] == ["triager"]


async def test_the_audit_log_answers_who_did_what_for_admins_only(
    api, container, make_triaged, clock
):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    case = f"/v1/cases/{triaged.case_id}"
    triager, admin = auth_headers("triager"), auth_headers("admin")
    assert (
        await api.post(case + "/assignment", json={"squad": "checkout"}, headers=triager)
    ).status_code == 200
    clock.advance(timedelta(minutes=5))
    assert (await api.post("/v1/catalogue/reload", headers=admin)).status_code == 200
    assert (await api.post("/v1/admin/sweep", headers=admin)).status_code == 200

    assert (await api.get("/v1/audit", headers=triager)).status_code == 403
    everything = (await api.get("/v1/audit", headers=admin)).json()
    assert [(e["actor"], e["action"]) for e in everything["items"]] == [
        ("admin", "sweep"),
        ("admin", "catalogue.reload"),
        ("triager", "case.reassign"),
    ]
    assign = everything["items"][-1]
    assert assign["target"] == str(triaged.case_id)
    assert assign["detail"] == {"squad": "checkout", "from_squad": "payments"}

    only = (await api.get("/v1/audit", params={"actor": "triager"}, headers=admin)).json()
    assert [e["action"] for e in only["items"]] == ["case.reassign"]
    reloads = (
        await api.get("/v1/audit", params={"action": "catalogue.reload"}, headers=admin)
    ).json()
    assert [e["actor"] for e in reloads["items"]] == ["admin"]

    first = (await api.get("/v1/audit", params={"limit": 2}, headers=admin)).json()
    assert [e["action"] for e in first["items"]] == ["sweep", "catalogue.reload"]
    rest = (
        await api.get(
            "/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
        )
    ).json()
    assert [e["action"] for e in rest["items"]] == ["case.reassign"]
    assert rest["next_cursor"] is None
    bad = await api.get("/v1/audit", params={"cursor": "not-ours"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_assigning_an_escalated_case_is_an_assignment_not_a_reassignment(
    api, container, make_triaged
):
    event_id, triaged = make_triaged(confidence=0.2, candidates=[("payments", 0.2)])
    container.route([(event_id, triaged)])
    case = f"/v1/cases/{triaged.case_id}"
    before = (await api.get(case, headers=auth_headers("triager"))).json()
    assert before["case"]["status"] == "escalated"
    done = await api.post(
        case + "/assignment", json={"squad": "payments"}, headers=auth_headers("triager")
    )
    assert done.status_code == 200, done.text
    [entry] = (await api.get("/v1/audit", headers=auth_headers("admin"))).json()["items"]
    assert (entry["action"], entry["detail"]) == (
        "case.assign",
        {"squad": "payments", "from_squad": None},
    )
