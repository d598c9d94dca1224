"""`GET /v1/catalogue/hygiene` in both services: one shape and the same answer for the same
catalogue, filters and paging over HTTP, problems for bad input, the gauge on /metrics and
a reload that fixes the catalogue."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contracts.catalogue import load_catalogue
from devkit.testing import auth_headers
from devkit.triage_fakes import FakeModelStore, KeywordClassifier, MemoryCaseRepository
from router.bootstrap import build as build_router
from router.config import Settings as RouterSettings
from router.entrypoints.http import create_app as router_app
from tests.e2e.test_readme_walkthrough import expected_pairs, found, parse_curl
from triage.bootstrap import build_container
from triage.config import Settings as TriageSettings
from triage.entrypoints.http import create_app as triage_app

ACME = Path(__file__).resolve().parents[1] / "data" / "backstage-acme"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    folder = tmp_path / "catalogue"
    shutil.copytree(ACME, folder)
    return folder


@pytest.fixture
async def router(tmp_path: Path, catalogue: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = RouterSettings(
        database_url=f"sqlite:///{tmp_path / 'router.db'}", catalogue_path=catalogue
    )
    container = build_router(settings)
    app = router_app(container, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router"
    ) as http:
        yield http
    container.engine.dispose()


@pytest.fixture
async def triage(tmp_path: Path, catalogue: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = TriageSettings(
        database_url=f"sqlite:///{tmp_path / 'triage.db'}",
        catalogue_path=catalogue,
        model_dir=tmp_path / "model",
        consumer_enabled=False,
    )
    container = build_container(
        settings,
        store=FakeModelStore(KeywordClassifier),
        repo=MemoryCaseRepository(),
        kafka=False,
    )
    app = triage_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://triage"
    ) as http:
        yield http
    await container.committer.close()


async def test_both_services_answer_the_same(router, triage, catalogue):
    mine = (await router.get("/v1/catalogue/hygiene")).json()
    theirs = (await triage.get("/v1/catalogue/hygiene")).json()

    assert mine == theirs
    expected = load_catalogue(catalogue)
    assert mine["counts"] == expected.hygiene_counts()
    assert [i["entity"] for i in mine["items"]] == [i.entity for i in expected.hygiene]
    assert mine["ignored"]["Environment"] == 2
    assert mine["next_cursor"] is None


async def test_filters_and_pages_over_http(router):
    first = await router.get(
        "/v1/catalogue/hygiene",
        params=[
            ("kind", "squad_without_channel"),
            ("kind", "user_in_several_groups"),
            ("limit", 2),
        ],
    )
    assert first.status_code == 200
    body = first.json()
    assert [i["entity"] for i in body["items"]] == [
        "group:default/platform",
        "group:default/team-venues",
    ]
    rest = await router.get(
        "/v1/catalogue/hygiene",
        params=[
            ("kind", "squad_without_channel"),
            ("kind", "user_in_several_groups"),
            ("cursor", body["next_cursor"]),
        ],
    )
    [ticketing, grace] = rest.json()["items"]
    assert ticketing["entity"] == "group:default/ticketing"
    assert (grace["resolved_to"], grace["related"]) == (
        "team-venues",
        ["ticketing", "team-venues", "acme"],
    )
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code", "loc"),
    [
        ({"kind": "messy"}, "validation_error", "query.kind.0"),
        ({"limit": 0}, "validation_error", "query.limit"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor", "query.cursor"),
    ],
)
async def test_bad_input_is_a_problem(triage, params, code, loc):
    response = await triage.get("/v1/catalogue/hygiene", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert loc in [e["loc"] for e in problem["errors"]]


def _gauge(text: str, kind: str) -> float:
    line = next(
        x for x in text.splitlines() if x.startswith(f'catalogue_problems{{kind="{kind}"}}')
    )
    return float(line.rsplit(" ", 1)[1])


async def test_the_gauge_follows_a_reload(router, catalogue):
    assert _gauge((await router.get("/metrics")).text, "no_service_delivery") == 1.0
    org = catalogue / "org.yaml"
    org.write_text(org.read_text().replace("type: organization", "type: service-delivery", 1))

    assert (await router.post("/v1/catalogue/reload")).status_code == 200
    assert _gauge((await router.get("/metrics")).text, "no_service_delivery") == 0.0
    counts = (await router.get("/v1/catalogue/hygiene")).json()["counts"]
    assert counts["no_service_delivery"] == 0


README = Path(__file__).resolve().parents[2] / "README.md"
DEMO = Path(__file__).resolve().parents[2] / "demo" / "catalogue"


async def test_the_readme_example_is_what_the_demo_catalogue_answers(tmp_path: Path):
    section = README.read_text(encoding="utf-8").split("**Catalogue hygiene.**", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, *shown = block.splitlines()
    request = parse_curl(command[2:], {"http://127.0.0.1:8001": "http://router"}, None)
    settings = RouterSettings(database_url=f"sqlite:///{tmp_path / 'r.db'}", catalogue_path=DEMO)
    container = build_router(settings)
    transport = httpx.ASGITransport(app=router_app(container, run_background=False))
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            answer = (await http.get(request.url, headers=request.headers)).json()
    finally:
        container.engine.dispose()
    want = expected_pairs(shown)
    assert len(want) >= 12
    assert [(k, v) for k, v in want if not found(k, v, answer)] == []
