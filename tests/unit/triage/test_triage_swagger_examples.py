"""What Swagger UI offers a triage lead can be executed, edited and executed again."""

from __future__ import annotations

import httpx


async def test_the_case_example_can_be_executed_twice_and_edited(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/v1/cases"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    example = spec["components"]["schemas"][ref]["example"]
    assert "external_ref" not in example
    params = spec["paths"]["/v1/cases"]["post"].get("parameters", [])
    assert all("example" not in p and "examples" not in p for p in params), params

    first = await client.post("/v1/cases", json=example)
    again = await client.post("/v1/cases", json=example)
    edited = await client.post("/v1/cases", json={**example, "title": "Checkout still fails"})

    assert [r.status_code for r in (first, again, edited)] == [201, 201, 201]
    assert "idempotent-replayed" not in again.headers
    assert len({r.json()["id"] for r in (first, again, edited)}) == 3


async def test_the_predict_example_runs_as_shown(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    example = spec["components"]["schemas"][ref]["example"]
    resp = await client.post("/v1/predict", json=example)
    assert resp.status_code == 200, resp.text
