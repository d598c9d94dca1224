"""Predict the owning squad of a support case from its text and the service catalogue.

```python
model, report = train_model(read_history_csv(path), catalogue)   # or [] for a cold start
save_model(model, Path("model/"))
model = load_model(Path("model/"), catalogue)                    # raises ModelLoadError
results = model.predict([CaseText(title, description)], threshold=0.6)
```

Modules: `features` (catalogue matcher, match features, pseudo-documents), `pipeline`
(the fitted scorer), `model` (`TriageModel` and its decision rules), `train`, `evaluate`,
`artifact` (save/load with a manifest), `errors`.
"""

from triage.classifier.artifact import load_model, read_manifest, save_model
from triage.classifier.errors import ClassifierError, HistoryError, ModelLoadError, TrainingError
from triage.classifier.evaluate import EvaluationReport, evaluate_model, write_plots
from triage.classifier.features import CatalogueMatcher
from triage.classifier.model import CaseText, LabelledCase, TriageModel
from triage.classifier.train import DEFAULT_THRESHOLD, read_history_csv, train_model

__all__ = [
    "DEFAULT_THRESHOLD",
    "CaseText",
    "CatalogueMatcher",
    "ClassifierError",
    "EvaluationReport",
    "HistoryError",
    "LabelledCase",
    "ModelLoadError",
    "TrainingError",
    "TriageModel",
    "evaluate_model",
    "load_model",
    "read_history_csv",
    "read_manifest",
    "save_model",
    "train_model",
    "write_plots",
]
