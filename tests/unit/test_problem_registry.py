"""One problem-code registry: every error of both services is registered, the generated
schema lists the registry, and the same error gets the same answer from both services."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contracts import generate
from contracts.problems import PROBLEMS, problem_kind
from devkit.testing import auth_headers
from devkit.triage_fakes import (
    FakeModelStore,
    KeywordClassifier,
    MemoryCaseRepository,
    sqlite_registry,
)
from router.bootstrap import build as build_router
from router.config import Settings as RouterSettings
from router.domain.errors import DomainError
from router.entrypoints.http import create_app as router_app
from router.service.errors import RouterError
from triage.bootstrap import build_container
from triage.config import Settings as TriageSettings
from triage.entrypoints.http import create_app as triage_app
from triage.errors import TriageError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "catalogue"


def _subclasses(base: type[Exception]) -> list[type[Exception]]:
    found = [base]
    for sub in base.__subclasses__():
        found += _subclasses(sub)
    return found


ERROR_CLASSES = [
    cls for base in (TriageError, RouterError, DomainError) for cls in _subclasses(base)
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_error_class_of_both_services_has_a_registered_code(cls: type[Exception]) -> None:
    code = cls.code  # type: ignore[attr-defined]
    kind = problem_kind(code)
    assert kind.code == code
    assert 400 <= kind.status < 600
    assert kind.type.endswith("/" + code.replace("_", "-"))


def test_an_unregistered_code_cannot_be_answered() -> None:
    with pytest.raises(KeyError, match="not registered"):
        problem_kind("name_taken")


def test_the_generated_problem_schema_lists_every_code_with_its_status_and_title() -> None:
    committed = json.loads((ROOT / "schemas" / "jsonschema" / "problem.json").read_text())
    listed = committed["properties"]["code"]["oneOf"]
    assert {entry["const"] for entry in listed} == set(PROBLEMS)
    for entry in listed:
        kind = PROBLEMS[entry["const"]]
        assert entry["title"] == kind.title
        assert entry["description"] == f"HTTP {kind.status}"
    assert committed == generate.json_schemas()["problem"]


@pytest.fixture
def catalogue_folder(tmp_path: Path) -> Path:
    """A copy of the demo catalogue both services read."""
    folder = tmp_path / "catalogue"
    shutil.copytree(DEMO, folder)
    return folder


@pytest.fixture
async def triage_http(tmp_path: Path, catalogue_folder: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Triage on fakes (no Kafka), over HTTP in process."""
    container = build_container(
        TriageSettings(
            database_url=f"sqlite:///{tmp_path / 'triage.db'}",
            catalogue_path=catalogue_folder,
            model_dir=tmp_path / "model",
            consumer_enabled=False,
        ),
        store=FakeModelStore(lambda cat: KeywordClassifier(cat)),
        repo=MemoryCaseRepository(),
        registry=sqlite_registry(f"sqlite:///{tmp_path / 'triage.db'}"),
        kafka=False,
    )
    transport = httpx.ASGITransport(app=triage_app(container))
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://triage"
    ) as http:
        yield http
    await container.committer.close()


@pytest.fixture
async def router_http(tmp_path: Path, catalogue_folder: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The router on SQLite (no Kafka, no background loops), over HTTP in process."""
    settings = RouterSettings(
        database_url=f"sqlite:///{tmp_path / 'router.db'}", catalogue_path=catalogue_folder
    )
    container = build_router(settings)
    transport = httpx.ASGITransport(app=router_app(container, run_background=False))
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router"
    ) as http:
        yield http
    container.engine.dispose()


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = resp.json()
    body.pop("instance")
    return body


async def test_an_invalid_catalogue_reload_answers_the_same_in_both_services(
    triage_http: httpx.AsyncClient, router_http: httpx.AsyncClient, catalogue_folder: Path
) -> None:
    (catalogue_folder / "broken.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\n"
    )
    from_triage = _problem(await triage_http.post("/v1/catalogue/reload"), 422)
    from_router = _problem(await router_http.post("/v1/catalogue/reload"), 422)
    assert from_triage == from_router
    assert from_triage["code"] == "invalid_catalogue"
    assert from_triage["title"] == "Invalid catalogue"
    errors = from_triage["errors"]
    assert isinstance(errors, list) and errors
    broken = str(catalogue_folder / "broken.yaml")
    assert all(str(e["loc"]).startswith(broken + ": ") for e in errors)


LISTINGS = [
    ("triage", "/v1/cases"),
    ("triage", "/v1/labels"),
    ("router", "/v1/cases"),
    ("router", "/v1/swarms"),
]
BAD_CURSORS = ["²", "9" * 10_000, "zzz", "W10"]


@pytest.mark.parametrize("cursor", BAD_CURSORS, ids=["superscript", "10k-digits", "zzz", "[]"])
async def test_a_malformed_cursor_is_the_same_422_on_every_listing(
    triage_http: httpx.AsyncClient, router_http: httpx.AsyncClient, cursor: str
) -> None:
    clients = {"triage": triage_http, "router": router_http}
    answers = [
        _problem(await clients[service].get(path, params={"cursor": cursor}), 422)
        for service, path in LISTINGS
    ]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["code"] == "invalid_cursor"
    errors = answers[0]["errors"]
    assert isinstance(errors, list) and [e["loc"] for e in errors] == ["query.cursor"]
