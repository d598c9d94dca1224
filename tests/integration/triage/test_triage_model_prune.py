"""Pruning old model versions for real: model folders on disk, the registry on SQLite and
Postgres, `triage models prune` (dry run first), and a second instance's copies."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from contracts.catalogue import load_catalogue
from devkit.testing import scratch_database
from servicekit.db import make_engine
from triage import training
from triage.adapters.model import DirModelStore
from triage.adapters.registry import MODELS, SqlModelRegistry
from triage.cli import _register_commands, app
from triage.domain import ModelRecord
from triage.errors import ModelVersionNotFound
from triage.migrations import upgrade

from .conftest import DEMO

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def folders(model_dir: Path) -> dict[str, Path]:
    """version -> its folder under `versions/`."""
    return {
        json.loads((d / "manifest.json").read_text())["version"]: d
        for d in (model_dir / "versions").iterdir()
        if (d / "manifest.json").is_file()
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own (retention looks at every version in it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'triage.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set; Postgres tests need a server")
    with scratch_database(base, prefix="stprune") as url:
        upgrade(url)
        yield url


@pytest.fixture
def registry(db_url: str) -> Iterator[SqlModelRegistry]:
    engine = make_engine(db_url)
    yield SqlModelRegistry(engine)
    engine.dispose()


def test_old_versions_are_pruned_keeping_the_record(
    db_url: str, registry: SqlModelRegistry, tmp_path: Path
) -> None:
    catalogue = load_catalogue(DEMO)
    base = tmp_path / "base"
    DirModelStore(base).train(catalogue)  # one real artifact, copied under eight versions
    model_dir = tmp_path / "model"
    store = DirModelStore(model_dir)
    versions = [f"v{i}" for i in range(8)]
    for i, version in enumerate(versions):
        folder = model_dir / "versions" / version
        shutil.copytree(base, folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "version": version}))
        status = "rejected" if i % 2 else "challenger"
        record = ModelRecord(version, T0 + timedelta(minutes=i), status, {}, {"decision": "x"})
        registry.add(record, store.pack(str(folder)))
    registry.promote("v1", T0)  # retires nothing yet: v1 is the first champion
    registry.promote("v2", T0)  # the champion; v1 retired
    artifact = registry.artifact("v1")
    assert artifact is not None
    store.install("v1", artifact)  # this instance's MODEL_DIR serves an older one
    other = DirModelStore(tmp_path / "other")  # another instance followed v4, then v7
    for version in ("v4", "v7"):
        blob = registry.artifact(version)
        assert blob is not None
        other.install(version, blob)
    assert set(folders(other.model_dir)) == {"v4", "v7"}

    _register_commands()
    args = ["models", "prune", "--model-dir", str(model_dir), "--database-url", db_url]
    dry = CliRunner().invoke(app, [*args, "--keep", "3", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would prune 3 version(s), 3 folder(s) (dry run: nothing changed)" in dry.output
    for version in ("v0", "v3", "v4"):
        assert version in dry.output
    assert {r.version: r.status for r in registry.versions()}["v3"] == "rejected"
    assert set(folders(model_dir)) == set(versions)

    done = CliRunner().invoke(app, [*args, "--keep", "3"])
    assert done.exit_code == 0, done.output
    assert "pruned 3 version(s), 3 folder(s)" in done.output
    statuses = {r.version: r.status for r in registry.versions()}
    # kept: the three newest, the champion and the model installed in MODEL_DIR
    assert statuses == {
        "v0": "pruned",
        "v1": "retired",
        "v2": "champion",
        "v3": "pruned",
        "v4": "pruned",
        "v5": "rejected",
        "v6": "challenger",
        "v7": "rejected",
    }
    assert set(folders(model_dir)) == {"v1", "v2", "v5", "v6", "v7"}
    assert json.loads((model_dir / "manifest.json").read_text())["version"] == "v1"
    # the record stays (the audit trail); only the artifact bytes are gone
    pruned = registry.get("v3")
    assert pruned is not None and pruned.evaluation["decision"] == "x"
    assert pruned.evaluation["pruned"]["status"] == "rejected"
    assert registry.artifact("v3") is None
    with registry.engine.connect() as conn:
        assert conn.execute(select(MODELS.c.artifact).where(MODELS.c.version == "v3")).scalar() in (
            b"",
            memoryview(b""),
        )
    with pytest.raises(ModelVersionNotFound, match="pruned"):
        training.promote("v3", registry=registry, store=store, catalogue=catalogue)
    with pytest.raises(ModelVersionNotFound, match="pruned"):
        registry.promote("v4", T0)
    assert registry.champion() is not None and registry.champion().version == "v2"

    # a second run finds nothing more; another instance drops its copy of a pruned version
    assert training.prune(registry=registry, store=store, keep=3).versions == []
    dropped = training.drop_pruned_files(registry=registry, store=other)
    assert [Path(p).name for p in dropped] == ["v4"]
    assert set(folders(other.model_dir)) == {"v7"}
