"""Problem+json responses and the body-size limit of servicekit.http."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from devkit.broker import free_port
from servicekit.db import make_engine
from servicekit.http import BodySizeLimit, ProblemError, install_problem_handlers


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=100)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        if body.name == "taken":
            raise ProblemError("concurrent_update", "pick another")
        return {"name": body.name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    return app


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_validation_error_names_the_field() -> None:
    async with client() as c:
        r = await c.post("/things", json={"name": "x", "count": "many", "extra": 1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "validation_error"
    locs = {e["loc"] for e in body["errors"]}
    assert locs == {"body.count", "body.extra"}


async def test_invalid_json_is_400() -> None:
    async with client() as c:
        r = await c.post(
            "/things", content=b'{"name": ', headers={"content-type": "application/json"}
        )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_json"


async def test_problem_error_and_404() -> None:
    async with client() as c:
        conflict = await c.post("/things", json={"name": "taken", "count": 1})
        missing = await c.get("/nowhere")
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/concurrent-update")
    assert conflict.json()["title"] == "Concurrent update"
    assert conflict.json()["detail"] == "pick another"
    assert conflict.json()["instance"] == "/things"
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


async def test_body_over_limit_is_413_declared_and_streamed() -> None:
    big = b'{"name": "' + b"x" * 200 + b'", "count": 1}'
    async with client() as c:
        declared = await c.post(
            "/things", content=big, headers={"content-type": "application/json"}
        )

        async def chunks():  # no content-length: streamed body
            yield big[:50]
            yield big[50:]

        streamed = await c.post(
            "/things", content=chunks(), headers={"content-type": "application/json"}
        )
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.json()["code"] == "body_too_large"


async def test_unhandled_error_is_500_problem() -> None:
    async with client() as c:
        r = await c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {
        "type": "https://support-triage.dev/problems/internal-error",
        "title": "Internal Server Error",
        "status": 500,
        "instance": "/boom",
        "code": "internal_error",
    }


def _db_app(error: Exception) -> httpx.AsyncClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/db")
    async def db() -> None:
        raise error

    @app.get("/wrapped")
    async def wrapped() -> None:
        try:
            raise error
        except Exception as exc:
            raise RuntimeError("the repository failed") from exc

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_database_that_cannot_be_reached_is_503_with_retry_after() -> None:
    # A real connection refused: nothing listens on this port.
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    with pytest.raises(OperationalError) as refused:
        engine.connect()
    for error in (refused.value, PoolTimeout("QueuePool limit reached")):
        async with _db_app(error) as c:
            for path in ("/db", "/wrapped"):
                r = await c.get(path)
                assert r.status_code == 503, (path, r.text)
                assert r.headers["retry-after"] == "5"
                assert r.headers["content-type"] == "application/problem+json"
                body = r.json()
                assert body["code"] == "database_unavailable"
                assert "SELECT" not in body["detail"] and "127.0.0.1" not in body["detail"]


async def test_a_data_error_of_the_database_stays_a_500() -> None:
    error = IntegrityError("INSERT", {}, ValueError("duplicate key"))
    async with _db_app(error) as c:
        r = await c.get("/db")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert "retry-after" not in r.headers
