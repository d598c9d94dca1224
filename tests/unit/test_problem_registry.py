"""One problem-code registry: every error of both services is registered, the generated
schema lists the registry, and the same error gets the same answer from both services."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from contracts import generate
from contracts.catalogue import load_catalogue
from contracts.problems import PROBLEMS, problem_kind
from router.bootstrap import build as build_router
from router.config import Settings as RouterSettings
from router.domain.errors import DomainError
from router.entrypoints.http import create_app as router_app
from router.service.errors import RouterError
from triage.adapters.memory import KeywordClassifier, MemoryCaseRepository
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


async def _reload_broken(app: object, base_url: str) -> dict[str, object]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        resp = await http.post("/v1/catalogue/reload")
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = resp.json()
    return body


async def test_an_invalid_catalogue_reload_answers_the_same_in_both_services(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "catalogue"
    shutil.copytree(DEMO, folder)
    triage = build_container(
        TriageSettings(
            database_url=f"sqlite:///{tmp_path / 'triage.db'}",
            catalogue_path=folder,
            model_dir=tmp_path / "model",
            consumer_enabled=False,
        ),
        classifier=KeywordClassifier(load_catalogue(folder)),
        repo=MemoryCaseRepository(),
        kafka=False,
    )
    router = build_router(
        RouterSettings(database_url=f"sqlite:///{tmp_path / 'router.db'}", catalogue_path=folder)
    )
    (folder / "broken.yaml").write_text("apiVersion: backstage.io/v1alpha1\nkind: Group\n")
    try:
        from_triage = await _reload_broken(triage_app(triage), "http://triage")
        from_router = await _reload_broken(
            router_app(router, run_background=False), "http://router"
        )
    finally:
        await triage.committer.close()
        router.engine.dispose()
    assert from_triage == from_router
    assert from_triage["code"] == "invalid_catalogue"
    assert from_triage["title"] == "Invalid catalogue"
    errors = from_triage["errors"]
    assert isinstance(errors, list) and errors
    assert all(str(e["loc"]).startswith(str(folder / "broken.yaml") + ": ") for e in errors)
