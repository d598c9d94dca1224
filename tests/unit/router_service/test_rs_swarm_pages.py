"""`GET /v1/swarms` pages newest first with an opaque cursor and keeps the status filter."""

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
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router.test"
    ) as client:
        yield client


def _cross(make_triaged):
    return make_triaged(
        confidence=0.5,
        candidates=[("payments", 0.5), ("checkout", 0.45)],
        components=[("payment-gateway", "payments"), ("checkout-api", "checkout")],
    )


async def _all_pages(api, limit, **params):
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        resp = await api.get("/v1/swarms", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_swarms_page_newest_first_without_gaps_or_repeats(
    api, container, make_triaged, clock
):
    for batch in (1, 2, 1, 3):  # swarms of one batch share their opening time
        container.route([_cross(make_triaged) for _ in range(batch)])
        clock.advance(timedelta(minutes=1))
    pages = await _all_pages(api, limit=2)
    items = [s for page in pages for s in page]

    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert len({s["id"] for s in items}) == len(items) == 7
    opened = [s["opened_at"] for s in items]
    assert opened == sorted(opened, reverse=True)
    whole = (await api.get("/v1/swarms")).json()
    assert [s["id"] for s in whole["items"]] == [s["id"] for s in items]
    assert whole["next_cursor"] is None

    closed = items[1]["id"]
    resp = await api.post(
        f"/v1/swarms/{closed}/close", json={"owner_squad": "payments", "outcome": "x", "by": "sd"}
    )
    assert resp.status_code == 200
    open_ids = [s["id"] for p in await _all_pages(api, limit=3, status="open") for s in p]
    assert open_ids == [s["id"] for s in items if s["id"] != closed]
    (only,) = await _all_pages(api, limit=3, status="closed")
    assert [s["id"] for s in only] == [closed]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}, {"cursor": "bm90fGE="}],
)
async def test_bad_limit_or_cursor_is_422(api, params):
    resp = await api.get("/v1/swarms", params=params)
    assert resp.status_code == 422
