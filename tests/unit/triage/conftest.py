"""Fixtures for the triage service unit tests: in-memory repository, keyword classifier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from contracts import CaseSubmission
from contracts.catalogue import Catalogue, load_catalogue
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
from triage.entrypoints.http import create_app

DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The demo catalogue shipped in the repository."""
    return load_catalogue(DEMO)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a process without Kafka, a temp SQLite file and the demo catalogue."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'triage.db'}",
        catalogue_path=DEMO,
        model_dir=tmp_path / "model",
        consumer_enabled=False,
        max_body_bytes=4096,
    )


@pytest.fixture
def repo() -> MemoryCaseRepository:
    """An empty in-memory repository."""
    return MemoryCaseRepository()


@pytest.fixture
def container(settings: Settings, repo: MemoryCaseRepository, catalogue: Catalogue) -> Container:
    """A container on fakes (no Kafka)."""
    return build_container(
        settings,
        store=FakeModelStore(lambda _c: KeywordClassifier(catalogue)),
        repo=repo,
        registry=sqlite_registry(settings.database_url),
        kafka=False,
    )


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    app = create_app(container)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=httpx.ASGITransport(app=app), base_url="http://triage"
    ) as http:
        yield http
    await container.committer.close()


CASE_BODY: dict[str, object] = {
    "title": "Checkout fails",
    "description": "The checkout page shows an error when I place order",
    "reporter": {"name": "Ada"},
}


@pytest.fixture
def make_case() -> Callable[..., CaseSubmission]:
    """Build a valid case; keyword arguments override fields."""

    def make(**overrides: object) -> CaseSubmission:
        return CaseSubmission.model_validate({**CASE_BODY, **overrides})

    return make
