"""The HTTP API over fakes: status codes, headers and problem bodies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from devkit.triage_fakes import FakeModelStore, KeywordClassifier
from triage.app import Container

BODY = {
    "title": "Checkout fails",
    "description": "The checkout page shows an error when I place order",
    "reporter": {"name": "Ada"},
}
PROBLEM = "application/problem+json"


def assert_problem(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status and body["code"] == code
    return body


def error_locs(body: dict) -> set[str]:
    return {e["loc"] for e in body["errors"]}


async def test_post_creates_a_case(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/cases", json=BODY)
    assert resp.status_code == 201
    case = resp.json()
    assert resp.headers["location"] == f"/v1/cases/{case['id']}"
    assert "idempotent-replayed" not in resp.headers
    assert case["submission"]["title"] == BODY["title"]
    assert case["triage"]["squad"] == "checkout"
    got = await client.get(resp.headers["location"])
    assert got.status_code == 200 and got.json() == case


async def test_idempotency_key_replays_and_conflicts(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = await client.post("/v1/cases", json=BODY, headers=headers)
    again = await client.post("/v1/cases", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/v1/cases", json={**BODY, "title": "x"}, headers=headers)
    assert_problem(other, 409, "idempotency_conflict")


async def test_external_ref_is_an_idempotency_key(client: httpx.AsyncClient) -> None:
    body = {**BODY, "external_ref": "ZD-7"}
    first = await client.post("/v1/cases", json=body)
    again = await client.post("/v1/cases", json=body)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    conflict = await client.post("/v1/cases", json={**body, "priority": "P1"})
    assert_problem(conflict, 409, "idempotency_conflict")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**BODY, "title": 5}, "body.title"),
        ({**BODY, "surprise": 1}, "body.surprise"),
        ({**BODY, "priority": "P9"}, "body.priority"),
        ({**BODY, "reporter": {"email": "not-an-email"}}, "body.reporter.email"),
        ({"reporter": {"name": "Ada"}}, "body"),
        ({**BODY, "title": "x" * 301}, "body.title"),
        ({k: v for k, v in BODY.items() if k != "reporter"}, "body.reporter"),
    ],
)
async def test_invalid_case_names_the_field(client: httpx.AsyncClient, body, loc) -> None:
    resp = await client.post("/v1/cases", json=body)
    problem = assert_problem(resp, 422, "validation_error")
    assert loc in error_locs(problem)


async def test_invalid_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1/cases", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert_problem(resp, 400, "invalid_json")


async def test_oversized_body_is_413(client: httpx.AsyncClient, container: Container) -> None:
    big = {**BODY, "description": "x" * container.settings.max_body_bytes}
    resp = await client.post("/v1/cases", json=big)
    assert_problem(resp, 413, "body_too_large")


async def test_too_long_idempotency_key_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/cases", json=BODY, headers={"Idempotency-Key": "k" * 256})
    assert "header.Idempotency-Key" in error_locs(assert_problem(resp, 422, "validation_error"))


async def test_unknown_case_is_a_404_problem(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/cases/01a2190d-94ea-7f27-8bc1-05d69a522a34")
    assert_problem(resp, 404, "case_not_found")
    bad = await client.get("/v1/cases/not-a-uuid")
    assert "path.case_id" in error_locs(assert_problem(bad, 422, "validation_error"))


async def test_list_paginates_with_cursor_and_link(client: httpx.AsyncClient) -> None:
    ids = []
    for n in range(5):
        resp = await client.post("/v1/cases", json={**BODY, "title": f"case {n}"})
        ids.append(resp.json()["id"])
    seen = []
    url = "/v1/cases?limit=2"
    pages = 0
    while url:
        resp = await client.get(url)
        assert resp.status_code == 200
        page = resp.json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        if page["next_cursor"]:
            link = resp.headers["link"]
            assert link.endswith('; rel="next"') and page["next_cursor"] in link
            url = link[1 : link.index(">")]
        else:
            assert "link" not in resp.headers
            url = ""
    assert pages == 3
    assert seen == sorted(ids, reverse=True)


async def test_list_filters(client: httpx.AsyncClient) -> None:
    await client.post("/v1/cases", json={**BODY, "source": "email", "priority": "P1"})
    await client.post("/v1/cases", json={**BODY, "source": "chat"})
    email = (await client.get("/v1/cases?source=email")).json()["items"]
    assert [c["submission"]["source"] for c in email] == ["email"]
    p1 = (await client.get("/v1/cases?priority=P1&squad=checkout")).json()["items"]
    assert [c["submission"]["priority"] for c in p1] == ["P1"]
    assert (await client.get("/v1/cases?squad=nobody")).json()["items"] == []
    future = (await client.get("/v1/cases?received_after=2999-01-01T00:00:00Z")).json()
    assert future["items"] == []
    past = (await client.get("/v1/cases?received_before=2999-01-01T00:00:00Z")).json()
    assert len(past["items"]) == 2
    bad = await client.get("/v1/cases?decision=maybe")
    assert "query.decision" in error_locs(assert_problem(bad, 422, "validation_error"))
    assert_problem(await client.get("/v1/cases?cursor=zzz"), 422, "invalid_cursor")


async def test_predict_stores_nothing_and_caps_at_1000(
    client: httpx.AsyncClient, container: Container
) -> None:
    small = {"title": "checkout", "reporter": {"name": "a"}}
    ok = await client.post("/v1/predict", json={"cases": [small] * 1000})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["results"]) == 1000
    assert (await client.get("/v1/cases")).json()["items"] == []
    too_many = await client.post("/v1/predict", json={"cases": [small] * 1001})
    assert "body.cases" in error_locs(assert_problem(too_many, 422, "validation_error"))
    empty = await client.post("/v1/predict", json={"cases": []})
    assert_problem(empty, 422, "validation_error")


async def test_concurrent_posts_share_classifier_calls(
    client: httpx.AsyncClient, container: Container
) -> None:
    clf = container.state.classifier
    assert isinstance(clf, KeywordClassifier)
    resps = await asyncio.gather(
        *(client.post("/v1/cases", json={**BODY, "title": f"c{n}"}) for n in range(20))
    )
    assert all(r.status_code == 201 for r in resps)
    assert sum(clf.calls) == 20
    assert len(clf.calls) < 20


async def test_model_info_and_refused_reload(client: httpx.AsyncClient, container) -> None:
    info = (await client.get("/v1/model")).json()
    assert info["version"] == "keyword-1" and info["threshold"] is None
    assert info["target_precision"] == 0.9
    assert "checkout" in info["squads"]
    old = container.state
    container.models.store = FakeModelStore(refuse="hash_mismatch")
    refused = await client.post("/v1/model/reload")
    assert "hash_mismatch" in assert_problem(refused, 409, "model_refused")["detail"]
    assert container.state is old
    container.models.store = FakeModelStore(lambda cat: KeywordClassifier(cat, version="keyword-2"))
    reloaded = await client.post("/v1/model/reload")
    assert reloaded.status_code == 200 and reloaded.json()["version"] == "keyword-2"
    assert (await client.get("/v1/model")).json()["version"] == "keyword-2"
    # the reloaded model is the registry's champion: the other instances follow it
    models = {m["version"]: m["status"] for m in (await client.get("/v1/models")).json()["items"]}
    assert models == {"keyword-1": "retired", "keyword-2": "champion"}
    await container.models.sync()  # and following the registry keeps it
    assert container.state.classifier.version == "keyword-2"


async def test_catalogue_and_invalid_reload(
    client: httpx.AsyncClient, container: Container, tmp_path: Path
) -> None:
    cat = (await client.get("/v1/catalogue")).json()
    names = {s["name"] for s in cat["squads"]}
    assert "checkout" in names
    assert any(c["name"] == "checkout-api" and c["owner"] == "checkout" for c in cat["components"])
    assert "channels" not in json.dumps(cat)
    old = container.state
    (tmp_path / "broken.yaml").write_text("apiVersion: backstage.io/v1alpha1\nkind: Group\n")
    container.settings = container.settings.model_copy(update={"catalogue_path": tmp_path})
    resp = await client.post("/v1/catalogue/reload")
    problem = assert_problem(resp, 422, "invalid_catalogue")
    assert problem["errors"] and all("broken.yaml" in e["loc"] for e in problem["errors"][:1])
    assert container.state is old


async def test_health_readiness_and_metrics(client: httpx.AsyncClient, repo) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}, "warnings": []}
    ready = await client.get("/readyz")  # built without a Kafka side: the database only
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}, "warnings": []}
    repo.fail = RuntimeError("down")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable (RuntimeError)"},
        "warnings": [],
    }
    repo.fail = None
    await client.post("/v1/cases", json={**BODY, "source": "crm"})
    text = (await client.get("/metrics")).text
    assert 'triage_cases_total{decision="assign",source="crm"}' in text
    assert "triage_prediction_confidence_bucket" in text


async def test_openapi_documents_every_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), (method, path)
            assert op.get("tags"), (method, path)
    assert "409" in spec["paths"]["/v1/cases"]["post"]["responses"]


async def test_model_info_shows_the_thresholds_in_force(
    client: httpx.AsyncClient, container: Container
) -> None:
    point = {
        "target": 0.9,
        "min_examples": 10,
        "global_threshold": 0.7,
        "precision": 0.93,
        "coverage": 0.6,
        "n": 500,
        "squads": {"checkout": {"threshold": 0.55, "source": "own", "precision": 0.95}},
        "notes": [],
    }
    container.state.classifier.operating_point = point
    info = (await client.get("/v1/model")).json()
    assert info["operating_point"] == point
    assert info["target_precision"] == 0.9 and info["threshold"] is None
