"""The compiled calibrated model gives scikit-learn's probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from triage.classifier.pipeline import CompiledCalibrated


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
@pytest.mark.parametrize("classes", [2, 4])
def test_compiled_matches_sklearn(method: str, classes: int) -> None:
    rng = np.random.default_rng(0)
    x = sp.random(400, 30, density=0.2, random_state=1, format="csr")
    y = np.array([f"s{i}" for i in rng.integers(0, classes, 400)])
    x = x + sp.csr_matrix((np.ones(400), (np.arange(400), [int(v[1:]) for v in y])), (400, 30))
    model = CalibratedClassifierCV(LinearSVC(), cv=3, method=method).fit(x, y)
    compiled = CompiledCalibrated.from_sklearn(model)
    new = sp.random(50, 30, density=0.3, random_state=2, format="csr")
    np.testing.assert_allclose(compiled.predict_proba(new), model.predict_proba(new), atol=1e-9)
    np.testing.assert_allclose(compiled.predict_proba(new).sum(axis=1), 1.0)
    assert list(compiled.classes_) == list(model.classes_)
