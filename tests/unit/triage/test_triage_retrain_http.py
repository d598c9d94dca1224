"""The retrain, registry and labels API over fakes (the registry on SQLite): 202/409/404, job
status, judged challengers, promotion and rollback, interrupted jobs, labels pages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from prometheus_client import REGISTRY

from devkit.testing import auth_headers
from devkit.triage_fakes import (
    FakeModelStore,
    KeywordClassifier,
    MemoryCaseRepository,
    sqlite_registry,
)
from triage.app import Container
from triage.bootstrap import build_container
from triage.config import Settings
from triage.domain import Example, Label, RetrainJob
from triage.entrypoints.http import create_app

PROBLEM = "application/problem+json"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> FakeModelStore:
    """A fake store whose retrain waits for the test to open its gate."""
    return FakeModelStore(
        KeywordClassifier,
        gate=threading.Event(),
        history_rows=[Example("Card declined", "twice", "payments")],
    )


@pytest.fixture
async def api(
    settings: Settings, repo: MemoryCaseRepository, store: FakeModelStore
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    container = build_container(
        settings,
        store=store,
        repo=repo,
        registry=sqlite_registry(settings.database_url),
        kafka=False,
    )
    async with httpx.AsyncClient(
        headers=auth_headers(),
        transport=httpx.ASGITransport(app=create_app(container)),
        base_url="http://triage",
    ) as http:
        yield container, http
    if store.gate is not None:
        store.gate.set()
    await container.stop()


async def settle(http: httpx.AsyncClient, location: str) -> dict:
    """Poll a job until it is no longer running (gives up after 10 s and returns it)."""
    deadline = time.monotonic() + 10
    job = (await http.get(location)).json()
    while job["status"] == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        job = (await http.get(location)).json()
    return job


def retrains(outcome: str) -> float:
    return REGISTRY.get_sample_value("triage_model_retrains_total", {"outcome": outcome}) or 0.0


async def test_retrain_is_accepted_runs_alone_and_keeps_a_challenger_it_cannot_judge(
    api, store, repo
) -> None:
    _, http = api
    repo.label_rows.append(Label(uuid4(), "payments", "correction", T0))  # case unknown
    succeeded = retrains("succeeded")
    resp = await http.post("/v1/model/retrain")
    assert resp.status_code == 202, resp.text
    job = resp.json()
    location = resp.headers["location"]
    assert location == f"/v1/model/retrain/{job['id']}"
    assert job["status"] == "running" and job["previous_version"] == "keyword-1"
    assert job["new_version"] is None and job["finished_at"] is None

    again = await http.post("/v1/model/retrain")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.json()["code"] == "retrain_running"
    assert again.headers["location"] == location
    assert (await http.get(location)).json()["status"] == "running"
    # the API keeps serving while training runs
    assert (await http.get("/v1/model")).json()["version"] == "keyword-1"

    store.gate.set()
    job = await settle(http, location)
    assert job["status"] == "succeeded", job
    assert job["previous_version"] == "keyword-1" and job["new_version"] == "retrained-1"
    assert job["decision"] == "rejected"  # nothing labelled to hold out: nothing proven
    assert job["counts"]["history_rows"] == 1 and job["counts"]["labels"] == 1
    assert job["counts"]["skipped_missing_case"] == 1 and job["counts"]["corrections_used"] == 0
    assert job["metrics"]["n"] == 1
    assert job["metrics"]["evaluation"]["holdout"] == 0
    assert store.retrained == [[Example("Card declined", "twice", "payments")]]
    assert (await http.get("/v1/model")).json()["version"] == "keyword-1"
    models = (await http.get("/v1/models")).json()["items"]
    assert {m["version"]: m["status"] for m in models} == {
        "keyword-1": "champion",
        "retrained-1": "rejected",
    }
    shown = (await http.get("/v1/models/retrained-1")).json()
    assert shown["evaluation"]["decision"] == "rejected" and shown["evaluation"]["reasons"]
    assert retrains("succeeded") == succeeded + 1
    assert (await http.post("/v1/model/retrain")).status_code == 202  # free again


async def test_a_not_worse_challenger_is_refit_promoted_and_served(
    settings, repo, store, catalogue
) -> None:
    settings = settings.model_copy(update={"retrain_min_holdout": 2})
    store.gate.set()
    for i in range(10):  # imported labels the keyword classifier gets right
        repo.label_rows.append(
            Label(
                uuid4(),
                "payments",
                "import",
                T0 + timedelta(minutes=i),
                title="payment-gateway declined",
                description=f"card {i}",
                dedup_key=str(i),
            )
        )
    container = build_container(
        settings,
        store=store,
        repo=repo,
        registry=sqlite_registry(settings.database_url),
        kafka=False,
    )
    job = await container.models.start_retrain()
    await container.models.wait_retrains()
    done = await container.models.job(job.id)
    assert done.status == "succeeded" and done.decision == "promoted", done
    assert done.counts is not None and done.counts.holdout == 2
    assert [len(x) for x in store.retrained] == [9, 11]  # judged on the older, refit on all
    assert container.state.classifier.version == "retrained-2" == done.new_version
    # each model trained was loaded once, by the store; the promoted one is served as loaded
    assert store.loads == ["retrained-1", "retrained-2"]
    assert set(store.installed) == {"retrained-2"}  # by the retrain, and when it followed
    champion = container.models.registry.champion()
    assert champion is not None and champion.version == "retrained-2"
    assert champion.evaluation["refit_on"] == 11
    await container.stop()


async def test_each_retrain_prunes_versions_beyond_the_newest_kept(settings, repo, store) -> None:
    settings = settings.model_copy(update={"model_keep_versions": 1})
    store.gate.set()
    container = build_container(
        settings,
        store=store,
        repo=repo,
        registry=sqlite_registry(settings.database_url),
        kafka=False,
    )
    for _ in range(3):  # nothing labelled: each challenger is rejected
        await container.models.start_retrain()
        await container.models.wait_retrains()
    records = {r.version: r for r in container.models.registry.versions()}
    assert {v: r.status for v, r in records.items()} == {
        "keyword-1": "champion",  # always kept
        "retrained-1": "pruned",
        "retrained-2": "pruned",
        "retrained-3": "rejected",  # the newest
    }
    assert records["retrained-1"].evaluation["pruned"]["status"] == "rejected"
    assert records["retrained-1"].evaluation["decision"] == "rejected"  # the record stays
    assert container.models.registry.artifact("retrained-2") is None
    await container.stop()


async def test_promote_and_roll_back_by_version(api, store) -> None:
    container, http = api
    store.gate.set()
    resp = await http.post("/v1/model/retrain")
    await settle(http, resp.headers["location"])
    promoted = await http.post("/v1/models/retrained-1/promote")
    assert promoted.status_code == 200 and promoted.json()["status"] == "champion"
    assert (await http.get("/v1/model")).json()["version"] == "retrained-1"
    statuses = {m["version"]: m["status"] for m in (await http.get("/v1/models")).json()["items"]}
    assert statuses == {"keyword-1": "retired", "retrained-1": "champion"}
    back = await http.post("/v1/models/keyword-1/promote")
    assert back.status_code == 200
    assert container.state.classifier.version == "keyword-1"
    missing = await http.post("/v1/models/nope/promote")
    assert missing.status_code == 404 and missing.json()["code"] == "model_version_not_found"
    assert (await http.get("/v1/models/nope")).status_code == 404


async def test_a_job_whose_process_died_is_marked_interrupted_at_start(
    settings, repo, store
) -> None:
    registry = sqlite_registry(settings.database_url)
    dead = RetrainJob("dead-job", "running", T0, "keyword-1")
    registry.save_job(dead)
    assert registry.acquire("retrain", "dead-job", 30, T0) is None  # lapsed long ago
    container = build_container(settings, store=store, repo=repo, registry=registry, kafka=False)
    await container.models.start()
    job = await container.models.job("dead-job")
    assert job.status == "interrupted" and job.error_code == "interrupted"
    assert job.finished_at is not None
    store.gate.set()
    fresh = await container.models.start_retrain()  # the lapsed lease does not block
    await container.models.wait_retrains()
    assert (await container.models.job(fresh.id)).status == "succeeded"
    await container.stop()


async def test_unknown_job_is_404(api) -> None:
    _, http = api
    resp = await http.get(f"/v1/model/retrain/{uuid4()}")
    assert resp.status_code == 404
    assert resp.json()["code"] == "retrain_job_not_found"


async def test_failed_training_keeps_the_model(api, store) -> None:
    container, http = api
    store.fail_training = "boom"
    store.gate.set()
    failed = retrains("failed")
    resp = await http.post("/v1/model/retrain")
    job = await settle(http, resp.headers["location"])
    assert job["status"] == "failed" and job["error_code"] == "training_failed"
    assert "boom" in job["error"] and job["new_version"] is None
    assert container.state.classifier.version == "keyword-1"
    assert retrains("failed") == failed + 1


async def test_a_refused_new_model_fails_the_job_and_keeps_the_model(api, store) -> None:
    container, http = api
    store.refuse = "unknown_squads"  # training works, loading the result does not
    store.gate.set()
    job = await settle(http, (await http.post("/v1/model/retrain")).headers["location"])
    assert job["status"] == "failed" and job["error_code"] == "training_failed"
    assert "refused: unknown_squads" in job["error"]
    assert container.state.classifier.version == "keyword-1"
    assert (await http.post("/v1/model/retrain")).status_code == 202  # the lease was given up


async def test_labels_are_paged_newest_first_with_case_text(api, repo, make_case) -> None:
    _, http = api
    case = (await http.post("/v1/cases", json=make_case().model_dump(mode="json"))).json()
    for i in range(5):
        repo.label_rows.append(
            Label(
                uuid4() if i else UUID(case["id"]),
                "payments",
                "correction",
                T0 + timedelta(minutes=i),
                from_squad="checkout",
                by=f"lead{i}",
            )
        )
    first = await http.get("/v1/labels", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [x["by"] for x in body["items"]] == ["lead4", "lead3"]
    assert first.headers["link"].endswith('rel="next"')
    rest: list[dict] = []
    cursor = body["next_cursor"]
    while cursor:
        page = (await http.get("/v1/labels", params={"limit": 2, "cursor": cursor})).json()
        rest.extend(page["items"])
        cursor = page["next_cursor"]
    assert [x["by"] for x in rest] == ["lead2", "lead1", "lead0"]
    oldest = rest[-1]
    assert oldest["title"] == case["submission"]["title"]
    # no predicted squad in the label: the case's own prediction is shown
    assert oldest["predicted_squad"] == case["triage"]["squad"] == "checkout"
    assert oldest["from_squad"] == "checkout" and oldest["squad"] == "payments"
    assert rest[0]["title"] is None  # a case triage does not have
    bad = await http.get("/v1/labels", params={"cursor": "zzz"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


def test_the_openapi_document_lists_the_new_routes_under_model(container: Container) -> None:
    doc = create_app(container).openapi()
    for path, method in (
        ("/v1/model/retrain", "post"),
        ("/v1/model/retrain/{job_id}", "get"),
        ("/v1/labels", "get"),
        ("/v1/models", "get"),
        ("/v1/models/{version}", "get"),
        ("/v1/models/{version}/promote", "post"),
    ):
        assert doc["paths"][path][method]["tags"] == ["model"]
    assert "202" in doc["paths"]["/v1/model/retrain"]["post"]["responses"]
