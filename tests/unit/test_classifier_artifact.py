"""Saving and loading model artifacts, and every refusal."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from contracts.catalogue import Catalogue
from triage.classifier import CaseText, ModelLoadError, TriageModel, load_model, save_model

Trained = tuple[TriageModel, object]


@pytest.fixture
def saved(tmp_path: Path, trained: Trained) -> Path:
    directory = tmp_path / "model"
    save_model(trained[0], directory)
    return directory


def _manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def _rewrite(directory: Path, **changes: object) -> None:
    manifest = _manifest(directory)
    manifest.update(changes)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_predicts_the_same(
    saved: Path, trained: Trained, small_catalogue: Catalogue
) -> None:
    model = trained[0]
    loaded = load_model(saved, small_catalogue)
    assert loaded.version == model.version
    assert loaded.squads == model.squads
    assert loaded.metrics == model.metrics
    assert loaded.trained_at == model.trained_at
    cases = [CaseText("", "card declined"), CaseText("slots", "reschedule delivery please")]
    before = model.predict(cases, threshold=0.5)
    after = loaded.predict(cases, threshold=0.5)
    assert [r.model_dump() for r in before] == [r.model_dump() for r in after]


def test_manifest_records_versions_and_hashes(saved: Path, trained: Trained) -> None:
    import hashlib

    import sklearn

    manifest = _manifest(saved)
    assert manifest["version"] == trained[0].version
    assert manifest["sklearn_version"] == sklearn.__version__
    for key in ("numpy_version", "python_version", "scipy_version", "catalogue_digest"):
        assert manifest[key]
    assert len(manifest["training_data_sha256"]) == 64
    digest = hashlib.sha256((saved / "model.joblib").read_bytes()).hexdigest()
    assert manifest["model_sha256"] == digest
    assert manifest["squads"] == trained[0].squads


def _refusal(directory: Path, catalogue: Catalogue) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as info:
        load_model(directory, catalogue)
    return info.value


def test_missing_directory_or_file(tmp_path: Path, saved: Path, small_catalogue: Catalogue) -> None:
    assert _refusal(tmp_path / "nothing", small_catalogue).code == "missing"
    (saved / "model.joblib").unlink()
    assert _refusal(saved, small_catalogue).code == "missing"


def test_corrupt_manifest(saved: Path, small_catalogue: Catalogue) -> None:
    (saved / "manifest.json").write_text("{not json")
    assert _refusal(saved, small_catalogue).code == "corrupt"


def test_other_sklearn_version(saved: Path, small_catalogue: Catalogue) -> None:
    _rewrite(saved, sklearn_version="0.0.1")
    error = _refusal(saved, small_catalogue)
    assert error.code == "sklearn_version_mismatch"
    assert "0.0.1" in str(error)


def test_hash_mismatch_is_refused_before_unpickling(
    saved: Path, small_catalogue: Catalogue, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self) -> tuple:
            return (marker.touch, ())

    (saved / "model.joblib").write_bytes(pickle.dumps(Boom()))
    assert _refusal(saved, small_catalogue).code == "hash_mismatch"
    assert not marker.exists()


def test_squads_missing_from_catalogue(saved: Path, small_catalogue: Catalogue) -> None:
    fewer = Catalogue(
        squads={k: v for k, v in small_catalogue.squads.items() if k != "delivery"},
        components={},
        digest="x",
        source="smaller",
    )
    error = _refusal(saved, fewer)
    assert error.code == "unknown_squads"
    assert "delivery" in str(error)


def test_file_that_is_not_a_scorer_is_corrupt(saved: Path, small_catalogue: Catalogue) -> None:
    import hashlib

    import joblib

    joblib.dump({"not": "a scorer"}, saved / "model.joblib")
    digest = hashlib.sha256((saved / "model.joblib").read_bytes()).hexdigest()
    _rewrite(saved, model_sha256=digest)
    assert _refusal(saved, small_catalogue).code == "corrupt"


def test_manifest_carries_the_choice_and_the_operating_point(
    saved: Path, trained: Trained, small_catalogue: Catalogue
) -> None:
    manifest = _manifest(saved)
    assert manifest["format"] == 2
    selection = manifest["info"]["selection"]
    names = [c["name"] for c in selection["candidates"]]
    assert names[0] == "baseline" and selection["chosen"] in names
    assert sum(c["chosen"] for c in selection["candidates"]) == 1
    op = manifest["operating_point"]
    assert op["target"] == 0.9 and set(op["squads"]) == set(trained[0].squads)
    for point in op["squads"].values():
        assert {"threshold", "precision", "coverage", "support", "source"} <= set(point)
    loaded = load_model(saved, small_catalogue)
    assert loaded.operating == trained[0].operating
    assert loaded.use_target(0.8).operating is not None
    assert loaded.operating.target == 0.8


def test_a_format_1_model_is_refused_with_the_way_out(
    saved: Path, small_catalogue: Catalogue
) -> None:
    _rewrite(saved, format=1)
    with pytest.raises(ModelLoadError) as info:
        load_model(saved, small_catalogue)
    assert info.value.code == "outdated_format"
    assert "retrain" in str(info.value)


@pytest.mark.parametrize(
    "model_file",
    ["../elsewhere.joblib", "/etc/passwd", "sub/../../model.joblib", "", ".", "link.joblib", 7],
)
def test_model_file_must_stay_inside_the_directory(
    saved: Path, small_catalogue: Catalogue, tmp_path: Path, model_file: object
) -> None:
    outside = tmp_path / "elsewhere.joblib"
    outside.write_bytes((saved / "model.joblib").read_bytes())
    (saved / "link.joblib").symlink_to(outside)
    _rewrite(saved, model_file=model_file)
    assert _refusal(saved, small_catalogue).code == "unsafe_path"


def test_a_model_file_in_a_subfolder_of_the_directory_loads(
    saved: Path, small_catalogue: Catalogue
) -> None:
    (saved / "v1").mkdir()
    (saved / "model.joblib").rename(saved / "v1" / "model.joblib")
    _rewrite(saved, model_file="v1/model.joblib")
    assert load_model(saved, small_catalogue).squads


def test_the_bytes_hashed_are_the_bytes_loaded(
    saved: Path, small_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is swapped after the hash check, just before unpickling: the swap is unseen."""
    from triage.classifier import artifact

    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self) -> tuple:
            return (marker.touch, ())

    real_load = artifact.joblib.load

    def swap_then_load(source: object) -> object:
        (saved / "model.joblib").write_bytes(pickle.dumps(Boom()))
        return real_load(source)

    monkeypatch.setattr(artifact.joblib, "load", swap_then_load)
    assert load_model(saved, small_catalogue).squads
    assert not marker.exists()
