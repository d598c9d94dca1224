"""A new instance with an empty model folder starts on the registry's champion: the artifact
comes from the database (no shared disk), and nothing is trained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.catalogue import load_catalogue
from servicekit.db import make_engine
from triage import training
from triage.adapters.model import DirModelStore
from triage.adapters.registry import SqlModelRegistry
from triage.migrations import upgrade

from .conftest import DEMO


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SqlModelRegistry]:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield SqlModelRegistry(engine)
    engine.dispose()


class NoTraining(DirModelStore):
    def train(self, catalogue: object) -> None:  # type: ignore[override]
        raise AssertionError("a new instance trained although the registry has a champion")


def test_an_empty_model_folder_gets_the_champion(
    registry: SqlModelRegistry, tmp_path: Path
) -> None:
    catalogue = load_catalogue(DEMO)
    first = DirModelStore(tmp_path / "first")
    first.train(catalogue)
    loaded = first.load(catalogue)
    training.adopt_champion(registry=registry, store=first, catalogue=catalogue, loaded=loaded)

    fresh = NoTraining(tmp_path / "fresh")
    assert not fresh.exists()
    assert training.install_champion(registry=registry, store=fresh) == loaded.version
    assert fresh.load(catalogue).version == loaded.version
    # A saved model is left alone.
    assert training.install_champion(registry=registry, store=fresh) is None


def test_without_a_champion_nothing_is_installed(
    registry: SqlModelRegistry, tmp_path: Path
) -> None:
    fresh = DirModelStore(tmp_path / "fresh")
    assert training.install_champion(registry=registry, store=fresh) is None
    assert not fresh.exists()
