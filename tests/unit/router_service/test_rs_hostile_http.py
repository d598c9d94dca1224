"""Hostile input on the router's HTTP edge: every bad value is a 4xx problem, never a 500."""

from __future__ import annotations

import base64
import threading

import httpx
import pytest

from contracts.problems import PROBLEM_MEDIA_TYPE
from devkit.testing import auth_headers
from router.domain import policy as policy_module
from router.domain.errors import PolicyError
from router.entrypoints import routes_admin
from router.entrypoints.http import create_app
from servicekit.paging import encode_cursor


@pytest.fixture
async def api(container):
    app = create_app(container, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router.test"
    ) as client:
        yield client


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "cursor",
    [
        "²",
        "9" * 5000,
        "%00",
        _b64(b'["queue",NaN,"2026-03-02T09:30:00+00:00","00000000-0000-0000-0000-000000000000"]'),
        _b64(b'["queue",1e999,"2026-03-02T09:30:00+00:00","00000000-0000-0000-0000-000000000000"]'),
        _b64(b'["queue",0.5,"9999-12-31T23:59:59-14:00","00000000-0000-0000-0000-000000000000"]'),
        _b64(b'["queue",0.5,"0001-01-01T00:00:00+14:00","00000000-0000-0000-0000-000000000000"]'),
        encode_cursor("swarms", "2026-03-02T09:30:00+00:00", "x"),
    ],
)
async def test_queue_cursor_garbage_is_422(api, cursor):
    body = _problem(await api.get("/v1/cases", params={"cursor": cursor}), 422, "invalid_cursor")
    assert body["errors"][0]["loc"] == "query.cursor"


@pytest.mark.parametrize("value", ["9" * 40, str(10**10), "-1", "²", "1e3"])
async def test_queue_older_than_minutes_out_of_range_is_422(api, value):
    body = _problem(
        await api.get("/v1/cases", params={"older_than_minutes": value}), 422, "validation_error"
    )
    assert body["errors"][0]["loc"] == "query.older_than_minutes"


async def test_queue_older_than_minutes_a_year_is_fine(api):
    assert (await api.get("/v1/cases", params={"older_than_minutes": 525_600})).status_code == 200


BOMB = (
    "version: 1\nname: bomb\nack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n"
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "major_incident: {keywords: *i}\n"
)


async def test_policy_with_aliases_is_refused_without_expanding(api):
    body = _problem(
        await api.post("/v1/policy/validate", content=BOMB.encode()), 422, "invalid_policy"
    )
    assert "aliases" in body["errors"][0]["message"]


async def test_policy_with_a_harmless_anchor_but_no_alias_still_validates(api):
    text = "version: 1\nname: anchored\nack_deadlines: &d {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n"
    assert (await api.post("/v1/policy/validate", content=text.encode())).status_code == 200


async def test_policy_over_the_size_cap_is_refused(api):
    filler = "# " + "x" * 100 + "\n"
    text = "version: 1\nname: big\n" + filler * (policy_module.MAX_POLICY_BYTES // len(filler) + 1)
    with pytest.raises(PolicyError, match="limit"):
        policy_module.parse_policy(text, "file")
    _problem(await api.post("/v1/policy/validate", content=text.encode()), 413, "body_too_large")


async def test_policy_lists_and_phrases_are_capped(api):
    many = ", ".join(f"k{i}" for i in range(policy_module.MAX_ENTRIES + 1))
    long = "x" * (policy_module.MAX_PHRASE_CHARS + 1)
    text = (
        "version: 1\nname: long\nack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n"
        f"major_incident: {{keywords: [{many}], tags: [{long}]}}\n"
    )
    body = _problem(
        await api.post("/v1/policy/validate", content=text.encode()), 422, "invalid_policy"
    )
    locs = {e["loc"] for e in body["errors"]}
    assert "major_incident.keywords" in locs and "major_incident.tags.0" in locs


async def test_policy_is_parsed_off_the_event_loop(api, monkeypatch):
    threads: list[int] = []
    real = routes_admin.parse_policy

    def spy(text: str, source: str = ""):
        threads.append(threading.get_ident())
        return real(text, source)

    monkeypatch.setattr(routes_admin, "parse_policy", spy)
    text = "version: 1\nname: x\nack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n"
    assert (await api.post("/v1/policy/validate", content=text.encode())).status_code == 200
    assert threads and threads[0] != threading.get_ident()
