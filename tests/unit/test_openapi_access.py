"""Every route of both services declares who may call it, and none answers without a
credential: the test walks both OpenAPI documents, so a route added without `require(...)`
(or `public()`) fails here."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devkit.testing import auth_headers
from devkit.triage_fakes import FakeModelStore, KeywordClassifier, MemoryCaseRepository
from router.bootstrap import build as build_router
from router.config import Settings as RouterSettings
from router.entrypoints.http import create_app as router_app
from triage.bootstrap import build_container
from triage.config import Settings as TriageSettings
from triage.entrypoints.http import create_app as triage_app

DEMO = Path(__file__).resolve().parents[2] / "demo" / "catalogue"
PUBLIC = {("get", "/healthz"), ("get", "/readyz")}
UUID_ = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FastAPI]]:
    tmp = tmp_path_factory.mktemp("apps")
    shutil.copytree(DEMO, tmp / "catalogue")
    triage = build_container(
        TriageSettings(
            database_url=f"sqlite:///{tmp / 'triage.db'}",
            catalogue_path=tmp / "catalogue",
            model_dir=tmp / "model",
            consumer_enabled=False,
        ),
        store=FakeModelStore(lambda cat: KeywordClassifier(cat)),
        repo=MemoryCaseRepository(),
        kafka=False,
    )
    router = build_router(
        RouterSettings(
            database_url=f"sqlite:///{tmp / 'router.db'}", catalogue_path=tmp / "catalogue"
        )
    )
    yield {"triage": triage_app(triage), "router": router_app(router, run_background=False)}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    doc = app.openapi()
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", UUID_, path)


@pytest.mark.parametrize("service", ["triage", "router"])
async def test_every_route_declares_its_roles_and_refuses_anonymous_callers(
    apps: dict[str, FastAPI], service: str
) -> None:
    app = apps[service]
    ops = _operations(app)
    assert len(ops) > 5
    undeclared = [
        f"{m.upper()} {p}" for m, p, op in ops if "x-roles" not in op and not op.get("x-public")
    ]
    assert undeclared == [], "routes without require(...) or public()"
    async with _client(app) as client:
        for method, path, op in ops:
            if op.get("x-public"):
                assert (method, path) in PUBLIC, f"{method} {path} is open"
                continue
            assert op["security"] == [
                {"bearerAuth": op["x-roles"]},
                {"apiKeyAuth": op["x-roles"]},
            ] or op["security"] == [{"apiKeyAuth": op["x-roles"]}, {"bearerAuth": op["x-roles"]}], (
                path
            )
            answer = await client.request(method, _url(path), json={} if method == "post" else None)
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer ")
            assert answer.json()["code"] == "unauthenticated"
            bad = await client.request(
                method, _url(path), headers={"X-API-Key": "not-a-key-of-anyone"}
            )
            assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("service", ["triage", "router"])
async def test_a_caller_without_the_role_is_forbidden(
    apps: dict[str, FastAPI], service: str
) -> None:
    app = apps[service]
    async with _client(app) as client:
        for method, path, op in _operations(app):
            roles = op.get("x-roles", [])
            if not roles or "reporter" in roles:
                continue
            answer = await client.request(
                method,
                _url(path),
                json={} if method == "post" else None,
                headers=auth_headers("reporter"),
            )
            assert answer.status_code == 403, f"{method} {path}: {answer.status_code}"
            assert answer.json()["code"] == "insufficient_role"
            assert "www-authenticate" not in answer.headers


def test_the_documents_offer_both_schemes_to_swagger_uis_authorize_button(
    apps: dict[str, FastAPI],
) -> None:
    for app in apps.values():
        schemes = app.openapi()["components"]["securitySchemes"]
        assert schemes["bearerAuth"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT or API key",
            "description": "A JWT from the identity provider, or an API key.",
        }
        assert schemes["apiKeyAuth"]["in"] == "header"
        assert schemes["apiKeyAuth"]["name"] == "X-API-Key"


def test_admin_only_routes(apps: dict[str, FastAPI]) -> None:
    admin = {
        (s, m, p)
        for s, app in apps.items()
        for m, p, op in _operations(app)
        if op.get("x-roles") == ["admin"]
    }
    assert admin >= {
        ("router", "post", "/v1/catalogue/reload"),
        ("router", "post", "/v1/policy/reload"),
        ("router", "post", "/v1/admin/sweep"),
        ("triage", "post", "/v1/model/reload"),
        ("triage", "post", "/v1/model/retrain"),
        ("triage", "post", "/v1/catalogue/reload"),
    }
