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
    blocks = [new[:, :10], new[:, 10:25].toarray(), new[:, 25:]]
    np.testing.assert_allclose(compiled.predict_proba(blocks), model.predict_proba(new), atol=1e-9)
    with pytest.raises(ValueError, match="columns"):
        compiled.predict_proba(blocks[:2])


def test_weighting_is_chosen_only_with_enough_history() -> None:
    from triage.classifier.pipeline import MIN_EXAMPLES_TO_CHOOSE, WEIGHTINGS, _choose_weighting

    rng = np.random.default_rng(3)
    words = np.array(["card", "refund", "slot", "truck", "basket", "order", "the", "and"])
    labels = rng.integers(0, 3, MIN_EXAMPLES_TO_CHOOSE)
    texts = [" ".join(rng.choice(words[[label, label + 3, 6, 7]], 6)) for label in labels.tolist()]
    y = np.array([f"s{v}" for v in labels])
    assert _choose_weighting(texts[:100], y[:100], 30, seed=0) == "tfidf"
    assert _choose_weighting(texts, y, 600, seed=0) in WEIGHTINGS
