"""Predict the owning squad of a support case from its text and the service catalogue.

```python
model, report = train_model(read_history_csv(path), catalogue)   # or [] for a cold start
save_model(model, Path("model/"))
model = load_model(Path("model/"), catalogue)                    # raises ModelLoadError
model.use_target(0.9)                                            # per-squad thresholds
results = model.predict([CaseText(title, description)])          # or threshold=0.6
```

Modules: `features` (catalogue matcher, match features, pseudo-documents), `vectorise`
and `charwb` (fast exact TF-IDF), `candidates` (the configurations and their feature
blocks), `selection` (cross-validation and the choice), `calibration` (temperature),
`thresholds` (per-squad thresholds for a target precision), `pipeline` (the fitted
scorer), `model` (`TriageModel` and its decision rules), `train`, `evaluate`, `report`
(HTML), `artifact` (save/load with a manifest), `errors`.
"""

from triage.classifier.artifact import load_model, model_file_path, read_manifest, save_model
from triage.classifier.errors import ClassifierError, HistoryError, ModelLoadError, TrainingError
from triage.classifier.evaluate import EvaluationReport, evaluate_model
from triage.classifier.features import CatalogueMatcher
from triage.classifier.model import CaseText, LabelledCase, TriageModel
from triage.classifier.report import write_report
from triage.classifier.thresholds import DEFAULT_TARGET, MIN_EXAMPLES, OperatingPoint
from triage.classifier.train import read_history_csv, train_model

__all__ = [
    "DEFAULT_TARGET",
    "MIN_EXAMPLES",
    "CaseText",
    "CatalogueMatcher",
    "ClassifierError",
    "EvaluationReport",
    "HistoryError",
    "LabelledCase",
    "ModelLoadError",
    "OperatingPoint",
    "TrainingError",
    "TriageModel",
    "evaluate_model",
    "load_model",
    "model_file_path",
    "read_history_csv",
    "read_manifest",
    "save_model",
    "train_model",
    "write_report",
]
