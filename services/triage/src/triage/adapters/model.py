"""The real model store: the classifier package's artifacts in `MODEL_DIR`.

Only this module imports `triage.classifier` (lazily, so the service starts its tests
without it); it adapts `TriageModel` to the `Classifier` port.

Layout of `MODEL_DIR`::

    MODEL_DIR/
      manifest.json, model.joblib     the model in force: what the service loads at start and
                                      on `POST /v1/model/reload`, and what
                                      `load_model(MODEL_DIR)` / `triage predict --model` read
      versions/<version>/             every model a retrain produced, each a full artifact
        manifest.json, model.joblib   (the model a retrain replaced is archived here first)

The top level stays a plain artifact directory, so everything written before versions
existed (first start, `triage train --out MODEL_DIR`) keeps working unchanged. A retrain
writes `versions/<version>/` completely; the model registry keeps the same artifact as bytes
(`pack`: a zip of the two files). Promoting a version installs it at the top level file by
file with `os.replace`: model file first, manifest last. A reader in between sees a model
whose hash the manifest does not match and is refused (`hash_mismatch`) - it keeps its old
model. `load_version` unpacks a registered version into `versions/<version>/` when this
instance does not have it yet (instances need no shared disk). `prune_files` deletes the
folders of versions the registry pruned (`MODEL_KEEP_VERSIONS`, see `training.prune`).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import zipfile
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from contracts import CaseSubmission, TriageResult
from contracts.catalogue import Catalogue
from triage.domain import Example, TrainedModel
from triage.errors import ModelRefused, TrainingFailed

VERSIONS = "versions"

log = logging.getLogger(__name__)


class TriageModelClassifier:
    """`Classifier` over a loaded `triage.classifier.TriageModel`."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def operating_point(self) -> dict[str, Any] | None:
        """The model's thresholds in force, as in its manifest."""
        op = getattr(self.model, "operating", None)
        return op.as_dict() if op is not None else None

    @property
    def version(self) -> str:
        """Model version."""
        return str(self.model.version)

    @property
    def squads(self) -> list[str]:
        """Squads the model predicts."""
        return list(self.model.squads)

    @property
    def metrics(self) -> dict[str, Any]:
        """Figures recorded at training."""
        return dict(self.model.metrics or {})

    @property
    def trained_at(self) -> datetime | None:
        """When the model was trained."""
        return getattr(self.model, "trained_at", None)

    def predict(
        self, cases: Sequence[CaseSubmission], *, threshold: float | None, margin: float = 0.1
    ) -> list[TriageResult]:
        """Classify a batch in one call."""
        from triage.classifier import CaseText

        texts = [CaseText(c.title, c.description, c.component) for c in cases]
        return list(self.model.predict(texts, threshold=threshold, margin=margin))

    def classify_texts(self, texts: Sequence[tuple[str, str]]) -> list[tuple[str | None, str]]:
        """(squad, decision) of each (title, description) at the model's thresholds."""
        from triage.classifier import CaseText

        out = self.model.predict([CaseText(t, d, None) for t, d in texts], threshold=None)
        return [(r.squad, r.decision.value) for r in out]


class DirModelStore:
    """`ModelStore` on a model folder; trains from `history_path` or the catalogue alone.

    Loaded models use the thresholds for `target_precision` (`TARGET_PRECISION`), derived
    from the out-of-fold evidence the model carries. Models it trains (at first start and
    on retrains) treat squads with fewer than `min_examples` cases as rare
    (`RETRAIN_MIN_EXAMPLES`; None: the classifier's default).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        history_path: Path | None = None,
        target_precision: float | None = None,
        min_examples: int | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.history_path = history_path
        self.target_precision = target_precision
        self.min_examples = min_examples

    def _train_options(self) -> dict[str, Any]:
        return {} if self.min_examples is None else {"min_examples": self.min_examples}

    def exists(self) -> bool:
        """Whether the folder holds a saved model."""
        return self.model_dir.is_dir() and any(self.model_dir.iterdir())

    def load(self, catalogue: Catalogue) -> TriageModelClassifier:
        """Load the saved model against `catalogue`; `ModelRefused` carries the reason."""
        return self._load_folder(self.model_dir, catalogue)

    def _load_folder(self, folder: Path, catalogue: Catalogue) -> TriageModelClassifier:
        """Load the artifact in `folder` at `target_precision`; `ModelRefused`."""
        from triage.classifier import ModelLoadError, load_model

        try:
            model = load_model(folder, catalogue)
        except ModelLoadError as exc:
            raise ModelRefused(str(exc), reason=exc.code) from exc
        if self.target_precision is not None:
            model.use_target(self.target_precision)
        return TriageModelClassifier(model)

    def train(self, catalogue: Catalogue) -> None:
        """Train (from the history CSV when configured) and save to the folder."""
        from triage.classifier import read_history_csv, save_model, train_model

        examples = read_history_csv(self.history_path) if self.history_path else []
        model, _report = train_model(examples, catalogue, **self._train_options())
        self.model_dir.mkdir(parents=True, exist_ok=True)
        save_model(model, self.model_dir)
        log.info("trained model %s into %s", model.version, self.model_dir)

    def history(self) -> list[Example]:
        """Rows of the history CSV (`history_path`), or none without one."""
        from triage.classifier import ClassifierError, read_history_csv

        if self.history_path is None:
            return []
        try:
            rows = read_history_csv(self.history_path)
        except ClassifierError as exc:
            raise TrainingFailed(str(exc), reason=exc.code) from exc
        return [Example(r.title, r.description, r.squad) for r in rows]

    def retrain(
        self, examples: Sequence[Example], catalogue: Catalogue, *, progress: bool = False
    ) -> TrainedModel:
        """Train on `examples` and save to `versions/<version>/` (not installed)."""
        from triage.classifier import ClassifierError, LabelledCase, save_model, train_model

        cases = [LabelledCase(e.title, e.description, e.squad) for e in examples]
        try:
            model, report = train_model(
                cases,
                catalogue,
                progress=progress,
                target=self.target_precision or 0.9,
                **self._train_options(),
            )
        except ClassifierError as exc:
            raise TrainingFailed(str(exc), reason=exc.code) from exc
        target = self._free_version_dir(str(model.version))
        save_model(model, target)
        try:  # never keep what would be refused; what was loaded is what gets judged and served
            loaded = self._load_folder(target, catalogue)
        except ModelRefused as exc:
            raise TrainingFailed(
                f"the new model was refused: {exc.message}", reason=exc.reason
            ) from exc
        log.info("trained model %s into %s", model.version, target)
        return TrainedModel(
            str(model.version), dict(model.metrics), str(target), report, classifier=loaded
        )

    def pack(self, path: str | None = None) -> bytes:
        """The artifact folder at `path` (default: the top level) as zip bytes."""
        from triage.classifier import ModelLoadError, model_file_path, read_manifest

        folder = Path(path) if path else self.model_dir
        try:
            manifest = read_manifest(folder)
            model_path = model_file_path(folder, manifest)  # never a file outside the folder
        except ModelLoadError as exc:
            raise ModelRefused(str(exc), reason=exc.code) from exc
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(model_path, str(manifest.get("model_file", "model.joblib")))
            zf.write(folder / "manifest.json", "manifest.json")
        return buffer.getvalue()

    def _unpacked(self, version: str, artifact: bytes) -> Path:
        """`versions/<version>/` holding exactly these bytes (written when absent)."""
        target = self.model_dir / VERSIONS / _safe(version)
        if target.is_dir() and self._same(target, artifact):
            return target
        tmp = target.with_name(f".{target.name}.unpack")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with zipfile.ZipFile(io.BytesIO(artifact)) as zf:
                for info in zf.infolist():
                    name = Path(info.filename).name  # flat: never a path outside `tmp`
                    (tmp / name).write_bytes(zf.read(info))
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelRefused(f"stored artifact unreadable: {exc}", reason="bad_artifact") from exc
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        return target

    def _same(self, folder: Path, artifact: bytes) -> bool:
        try:
            with zipfile.ZipFile(io.BytesIO(artifact)) as zf:
                return all(
                    (folder / Path(i.filename).name).is_file()
                    and (folder / Path(i.filename).name).read_bytes() == zf.read(i)
                    for i in zf.infolist()
                )
        except (zipfile.BadZipFile, OSError):
            return False

    def load_version(
        self, version: str, artifact: bytes, catalogue: Catalogue
    ) -> TriageModelClassifier:
        """Load a registered version from its artifact bytes; `ModelRefused`."""
        return self._load_folder(self._unpacked(version, artifact), catalogue)

    def install(self, version: str, artifact: bytes) -> None:
        """Make a version the top-level model (archiving the one it replaces)."""
        self._archive_current()
        self._install(self._unpacked(version, artifact))

    def installed_version(self) -> str | None:
        """The version in the top-level manifest (None without a readable one)."""
        from triage.classifier import ModelLoadError, read_manifest

        try:
            return str(read_manifest(self.model_dir)["version"])
        except ModelLoadError:
            return None

    def prune_files(self, versions: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Delete the `versions/` folders holding these versions (by their manifest; folders
        without a readable one, and the top level, are left alone)."""
        from triage.classifier import ModelLoadError, read_manifest

        root = self.model_dir / VERSIONS
        if not versions or not root.is_dir():
            return []
        gone: list[str] = []
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                version = str(read_manifest(folder)["version"])
            except ModelLoadError:
                continue
            if version in versions:
                if not dry_run:
                    shutil.rmtree(folder)
                gone.append(str(folder))
        return gone

    def _archive_current(self) -> None:
        """Copy the model in force into `versions/` when it is not there yet."""
        from triage.classifier import ModelLoadError, model_file_path, read_manifest

        try:
            manifest = read_manifest(self.model_dir)
            model_path = model_file_path(self.model_dir, manifest)
        except ModelLoadError:
            return
        dest = self.model_dir / VERSIONS / _safe(str(manifest["version"]))
        if dest.exists():
            return
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        inside = model_path.relative_to(self.model_dir.resolve())
        (tmp / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(model_path, tmp / inside)
        shutil.copy2(self.model_dir / "manifest.json", tmp / "manifest.json")
        os.replace(tmp, dest)

    def _free_version_dir(self, version: str) -> Path:
        base = self.model_dir / VERSIONS / _safe(version)
        target, n = base, 1
        while target.exists():
            n += 1
            target = base.with_name(f"{base.name}-{n}")
        return target

    def _install(self, source: Path) -> None:
        """Make the artifact in `source` the top-level one (model file first, manifest last)."""
        for name in ("model.joblib", "manifest.json"):
            tmp = self.model_dir / f".{name}.install"
            shutil.copy2(source / name, tmp)
            os.replace(tmp, self.model_dir / name)


def _safe(version: str) -> str:
    """A version id as a single path component."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in version).lstrip(".") or "_"
