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
