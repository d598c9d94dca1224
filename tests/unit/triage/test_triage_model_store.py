"""The real model store over the classifier package: train, load, refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import CaseSubmission, Decision
from contracts.catalogue import Catalogue
from triage.adapters.model import DirModelStore
from triage.errors import ModelRefused


def test_train_then_load_then_predict(tmp_path: Path, catalogue: Catalogue) -> None:
    store = DirModelStore(tmp_path / "model")
    assert not store.exists()
    store.train(catalogue)
    assert store.exists()
    clf = store.load(catalogue)
    case = CaseSubmission.model_validate(
        {
            "title": "checkout page broken",
            "description": "cannot place order",
            "reporter": {"name": "A"},
        }
    )
    (result,) = clf.predict([case], threshold=0.0)
    assert result.squad in clf.squads and result.model_version == clf.version
    assert result.decision in (Decision.ASSIGN, Decision.ESCALATE)


def test_missing_model_is_refused_with_the_loader_code(tmp_path: Path, catalogue) -> None:
    with pytest.raises(ModelRefused) as refused:
        DirModelStore(tmp_path / "nothing").load(catalogue)
    assert refused.value.reason == "missing"


def test_loaded_models_use_the_target_precision(tmp_path: Path, catalogue: Catalogue) -> None:
    DirModelStore(tmp_path / "model").train(catalogue)
    strict = DirModelStore(tmp_path / "model", target_precision=0.97).load(catalogue)
    default = DirModelStore(tmp_path / "model").load(catalogue)
    assert strict.operating_point is not None and strict.operating_point["target"] == 0.97
    assert default.operating_point is not None and default.operating_point["target"] == 0.9
    assert set(strict.operating_point["squads"]) == set(strict.squads)


def test_an_outdated_model_is_replaced_at_start(tmp_path: Path, catalogue: Catalogue) -> None:
    import json

    from triage import service

    store = DirModelStore(tmp_path / "model")
    store.train(catalogue)
    manifest_path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelRefused) as refused:
        store.load(catalogue)
    assert refused.value.reason == "outdated_format"
    source = catalogue.source
    assert source
    state = service.start_state(store=store, catalogue_path=Path(source))
    assert json.loads(manifest_path.read_text())["format"] == 2
    assert state.classifier.version


async def test_trainings_use_the_configured_min_examples(tmp_path: Path, catalogue) -> None:
    from triage.bootstrap import build_container
    from triage.config import Settings
    from triage.domain import Example
    from triage.migrations import upgrade

    squads = sorted(s for s, g in catalogue.squads.items() if not g.service_delivery)
    examples = [
        Example(f"{squad} case {i}", "it broke", squad) for squad in squads[:2] for i in range(4)
    ]
    trained = {
        n: DirModelStore(tmp_path / str(n), min_examples=n).retrain(examples, catalogue)
        for n in (3, 9)
    }
    for n, model in trained.items():  # the rare-squad rule of what was trained and saved
        op = model.classifier.operating_point
        assert op is not None and op["min_examples"] == n
        assert DirModelStore(Path(model.path)).load(catalogue).operating_point == op
    # the service builds its store from RETRAIN_MIN_EXAMPLES
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    settings = Settings(
        catalogue_path=Path(catalogue.source or ""),
        model_dir=tmp_path / "served",
        database_url=url,
        consumer_enabled=False,
        retrain_min_examples=4,
    )
    container = build_container(settings, kafka=False)
    assert container.models.store.min_examples == 4  # type: ignore[attr-defined]
    assert container.state.classifier.operating_point["min_examples"] == 4
    await container.stop()
