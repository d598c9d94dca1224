"""Model artifacts: a directory holding `model.joblib` and `manifest.json`.

The manifest records the version id, the training-data SHA-256, the scikit-learn, numpy,
scipy and Python versions, the squads, the catalogue digest, the out-of-fold metrics, the
candidates cross-validated and the one chosen (`info.selection`), the operating point
(per-squad thresholds, expected precision and coverage at the target precision; rare
squads) and the SHA-256 of the model file. `load_model` checks all of that **before**
unpickling anything, and refuses (`ModelLoadError.code`):

* `missing` — no manifest or no model file;
* `unsafe_path` — the manifest's `model_file` is not a file inside the artifact directory
  (an absolute path, `..`, or a symbolic link leading out of it);
* `outdated_format` — written by an earlier triage (manifest `format` 1, a calibrated
  ensemble without out-of-fold evidence or thresholds); it cannot be read: retrain;
* `corrupt` — unreadable manifest, or a model file that does not load as a scorer;
* `sklearn_version_mismatch` — trained with another scikit-learn version;
* `hash_mismatch` — the model file is not the one the manifest describes;
* `unknown_squads` — the model predicts squads the catalogue does not have.

The model file is read into memory once: the bytes hashed are the bytes unpickled, so the
file cannot be swapped between the check and the load.

Joblib files are pickles: only load artifacts from places you trust. The hash check
guards against accidental swaps, not against someone who can rewrite both files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn

from contracts.catalogue import Catalogue
from triage.classifier.errors import ModelLoadError
from triage.classifier.model import TriageModel
from triage.classifier.pipeline import Scorer
from triage.classifier.thresholds import OperatingPoint

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
FORMAT = 2


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: TriageModel, directory: Path) -> None:
    """Write the model and its manifest into `directory` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    tmp_model = directory / f".{MODEL_FILE}.tmp"
    joblib.dump(model.scorer, tmp_model, compress=3)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": model.version,
        "trained_at": model.trained_at.isoformat(),
        "training_data_sha256": model.info.get("training_data_sha256"),
        "catalogue_digest": model.info.get("catalogue_digest", model.catalogue.digest),
        "squads": list(model.squads),
        "metrics": model.metrics,
        "operating_point": model.operating.as_dict() if model.operating else None,
        "info": model.info,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
        "model_file": MODEL_FILE,
        "model_sha256": _sha256(tmp_model),
    }
    tmp_manifest = directory / f".{MANIFEST}.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp_model, model_path)
    os.replace(tmp_manifest, directory / MANIFEST)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The parsed manifest of an artifact directory.

    Raises:
        ModelLoadError: `missing` or `corrupt`.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"no model at {directory}: {MANIFEST} is missing", code="missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON: {exc}", code="corrupt") from exc
    required = ("version", "squads", "sklearn_version", "model_sha256", "trained_at")
    if not isinstance(manifest, dict) or any(k not in manifest for k in required):
        raise ModelLoadError(
            f"{path} lacks required fields ({', '.join(required)})", code="corrupt"
        )
    return manifest


def model_file_path(directory: Path, manifest: dict[str, Any]) -> Path:
    """The model file the manifest names, checked to be a file inside `directory`.

    Raises:
        ModelLoadError: `unsafe_path` (outside the directory) or `missing`.
    """
    name = manifest.get("model_file", MODEL_FILE)
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ModelLoadError(f"model_file {name!r} is not a file name", code="unsafe_path")
    root = directory.resolve()
    path = (directory / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(root) or path == root:
        raise ModelLoadError(
            f"model_file {name!r} is outside the model directory {directory}", code="unsafe_path"
        )
    if not path.is_file():
        raise ModelLoadError(f"no model file at {path}", code="missing")
    return path


def load_model(directory: Path, catalogue: Catalogue) -> TriageModel:
    """Load a saved model after checking its manifest against this environment.

    Args:
        directory: The artifact directory written by `save_model`.
        catalogue: The catalogue the model will route against.

    Raises:
        ModelLoadError: The artifact was refused; `code` says why.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest.get("format") != FORMAT:
        raise ModelLoadError(
            f"model {manifest['version']} at {directory} has artifact format "
            f"{manifest.get('format')!r}, this triage reads format {FORMAT} (models with "
            "per-squad thresholds); retrain it with `triage train` or `triage retrain`",
            code="outdated_format",
        )
    model_path = model_file_path(directory, manifest)
    if manifest["sklearn_version"] != sklearn.__version__:
        raise ModelLoadError(
            f"model {manifest['version']} was trained with scikit-learn "
            f"{manifest['sklearn_version']} but {sklearn.__version__} is installed; "
            "retrain it with this version",
            code="sklearn_version_mismatch",
        )
    try:
        data = model_path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{model_path} is not readable: {exc}", code="missing") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != manifest["model_sha256"]:
        raise ModelLoadError(
            f"{model_path} has SHA-256 {actual[:12]}... but the manifest expects "
            f"{str(manifest['model_sha256'])[:12]}...; the file was changed or replaced",
            code="hash_mismatch",
        )
    owners = {n for n, s in catalogue.squads.items() if not s.service_delivery}
    unknown = [s for s in manifest["squads"] if s not in owners]
    if unknown:
        raise ModelLoadError(
            f"model {manifest['version']} predicts squad(s) {', '.join(unknown)} that the "
            f"catalogue at {catalogue.source or '(given)'} does not have as owning groups; "
            "retrain it or fix the catalogue",
            code="unknown_squads",
        )
    try:
        scorer = joblib.load(io.BytesIO(data))
    except Exception as exc:  # unpickling can fail in many ways
        raise ModelLoadError(f"{model_path} does not load: {exc}", code="corrupt") from exc
    if not isinstance(scorer, Scorer) or list(scorer.squads) != list(manifest["squads"]):
        raise ModelLoadError(
            f"{model_path} is not a scorer for {manifest['squads']}", code="corrupt"
        )
    return TriageModel(
        version=str(manifest["version"]),
        squads=list(scorer.squads),
        metrics=dict(manifest.get("metrics") or {}),
        trained_at=datetime.fromisoformat(str(manifest["trained_at"])),
        scorer=scorer,
        catalogue=catalogue,
        info=dict(manifest.get("info") or {}),
        operating=_operating(manifest),
    )


def _operating(manifest: dict[str, Any]) -> OperatingPoint | None:
    data = manifest.get("operating_point")
    if not isinstance(data, dict):
        return None
    try:
        return OperatingPoint.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise ModelLoadError(
            f"the manifest's operating_point is malformed: {exc}", code="corrupt"
        ) from exc
