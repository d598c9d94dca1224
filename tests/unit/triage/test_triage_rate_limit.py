"""Per-client intake limits: 429 with Retry-After and a problem body, per client, off-able."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.catalogue import Catalogue
from devkit.testing import auth_headers
from devkit.triage_fakes import FakeModelStore, KeywordClassifier, MemoryCaseRepository
from servicekit.ratelimit import RateLimit, parse_limits
from triage.bootstrap import build_container
from triage.config import Settings
from triage.entrypoints.http import create_app

from .conftest import CASE_BODY


async def _client(settings: Settings, catalogue: Catalogue) -> AsyncIterator:
    container = build_container(
        settings,
        store=FakeModelStore(lambda _c: KeywordClassifier(catalogue)),
        repo=MemoryCaseRepository(),
        kafka=False,
    )
    app = create_app(container)
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 1234)),
            base_url="http://triage",
            headers=auth_headers(role),
        )
        for address, role in (
            ("10.0.0.1", "reporter"),
            ("10.0.0.2", "reporter"),
            ("10.0.0.1", "triager"),
        )
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        await container.committer.close()


@pytest.fixture
async def limited(settings: Settings, catalogue: Catalogue):
    limited = settings.model_copy(update={"rate_limit_intake": "3/minute"})
    async for clients in _client(limited, catalogue):
        yield clients


async def test_over_the_limit_is_429_with_retry_after_and_a_problem(limited) -> None:
    first, same_caller_elsewhere, other_caller_same_address = limited
    answers = [
        (await first.post("/v1/cases", json={**CASE_BODY, "title": f"t{n}"})).status_code
        for n in range(3)
    ]
    assert answers == [201, 201, 201]
    refused = await first.post("/v1/cases", json=CASE_BODY)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    predict = await first.post("/v1/predict", json={"cases": [CASE_BODY]})
    assert predict.status_code == 429  # intake and predict share the client's budget
    assert (await first.get("/v1/cases")).status_code == 200  # reads are not limited
    # The budget is the authenticated caller's, wherever it calls from, not the address's.
    assert (await same_caller_elsewhere.post("/v1/cases", json=CASE_BODY)).status_code == 429
    assert (await other_caller_same_address.post("/v1/cases", json=CASE_BODY)).status_code == 201


async def test_no_limit_by_default(client: httpx.AsyncClient) -> None:
    answers = {(await client.post("/v1/predict", json={"cases": [CASE_BODY]})).status_code}
    answers |= {
        (await client.post("/v1/predict", json={"cases": [CASE_BODY]})).status_code
        for _ in range(50)
    }
    assert answers == {200}


def test_a_limit_that_does_not_parse_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="rate_limit_intake"):
        Settings(rate_limit_intake="lots")
    with pytest.raises(ValueError, match="rate_limit_storage_uri"):
        Settings(rate_limit_storage_uri="postgres://db/limits")
    assert Settings().rate_limit_storage_uri == "memory://"  # per replica by default
    assert parse_limits("") == [] and not RateLimit("", name="x").enabled
    assert [str(i) for i in parse_limits("20/second;600/minute")] == [
        "20 per 1 second",
        "600 per 1 minute",
    ]
