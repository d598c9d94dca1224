"""The real model store: the classifier package's artifacts in `MODEL_DIR`.

Only this module imports `triage.classifier` (lazily, so the service starts its tests
without it); it adapts `TriageModel` to the `Classifier` port.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from contracts import CaseSubmission, TriageResult
from contracts.catalogue import Catalogue
from triage.errors import ModelRefused

log = logging.getLogger(__name__)


class TriageModelClassifier:
    """`Classifier` over a loaded `triage.classifier.TriageModel`."""

    def __init__(self, model: Any) -> None:
        self.model = model

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
        self, cases: Sequence[CaseSubmission], *, threshold: float, margin: float = 0.1
    ) -> list[TriageResult]:
        """Classify a batch in one call."""
        from triage.classifier import CaseText

        texts = [CaseText(c.title, c.description, c.component) for c in cases]
        return list(self.model.predict(texts, threshold=threshold, margin=margin))


class DirModelStore:
    """`ModelStore` on a model folder; trains from `history_path` or the catalogue alone."""

    def __init__(self, model_dir: Path, *, history_path: Path | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.history_path = history_path

    def exists(self) -> bool:
        """Whether the folder holds a saved model."""
        return self.model_dir.is_dir() and any(self.model_dir.iterdir())

    def load(self, catalogue: Catalogue) -> TriageModelClassifier:
        """Load the saved model against `catalogue`; `ModelRefused` carries the reason."""
        from triage.classifier import ModelLoadError, load_model

        try:
            return TriageModelClassifier(load_model(self.model_dir, catalogue))
        except ModelLoadError as exc:
            raise ModelRefused(str(exc), reason=exc.code) from exc

    def train(self, catalogue: Catalogue) -> None:
        """Train (from the history CSV when configured) and save to the folder."""
        from triage.classifier import read_history_csv, save_model, train_model

        examples = read_history_csv(self.history_path) if self.history_path else []
        model, _report = train_model(examples, catalogue)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        save_model(model, self.model_dir)
        log.info("trained model %s into %s", model.version, self.model_dir)
