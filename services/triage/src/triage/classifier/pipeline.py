"""The fitted scorer: feature blocks -> linear scores -> softmax with one temperature.

`Scorer.predict_proba` is the whole serving path: the blocks of `candidates.FeatureSet`
(compiled word 1-2-gram TF-IDF, optional per-word char_wb n-grams, catalogue evidence),
each multiplied by its slice of one dense weight matrix (no stacking), plus intercepts,
then `calibration.softmax`. With history the weights come from the configuration
`selection` chose (the mean of its fold models; see `train`); the temperature and the out-of-fold
evidence (`Evidence`, used to derive thresholds for any target precision) come from its
cross-validation. From the catalogue alone (no history, or a single squad) the model is a
multinomial logistic regression on the pseudo documents, used with temperature 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from triage.classifier.calibration import softmax
from triage.classifier.candidates import FeatureSet
from triage.classifier.features import Match

#: Weight of the catalogue columns: strong for a cold start, light once history exists
#: (with history the words already carry the names; heavier weights cost accuracy on the
#: demo history, 94.4% -> 93.6% at 1.0).
COLD_START_CATALOGUE_WEIGHT = 1.0
HISTORY_CATALOGUE_WEIGHT = 0.25


@dataclass
class Evidence:
    """Out-of-fold predictions of the training history, kept to derive thresholds.

    Attributes:
        predicted: Index (into the scorer's squads) of each case's top squad.
        confidence: Its calibrated probability.
        correct: Whether it was the case's squad.
        eligible: Whether no other rule would have escalated the case.
        truth: Index of the case's true squad.
        support: History cases per squad.
    """

    predicted: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray
    eligible: np.ndarray
    truth: np.ndarray
    support: dict[str, int] = field(default_factory=dict)


@dataclass
class Scorer:
    """Fitted features and linear weights; `predict_proba` columns follow `squads`."""

    squads: list[str]
    features: FeatureSet
    weights: np.ndarray  # (n_features, n_squads), float32, C order
    intercepts: np.ndarray  # (n_squads,)
    temperature: float
    kind: str
    evidence: Evidence | None = None

    def scores(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> np.ndarray:
        """Decision scores before calibration, `(len(texts), len(squads))`."""
        start = 0
        total = np.tile(self.intercepts, (len(texts), 1))
        for block in self.features.blocks(texts, matches):
            width = block.shape[1]
            total += block @ self.weights[start : start + width]
            start += width
        if start != self.weights.shape[0]:
            raise ValueError(f"blocks have {start} columns, the model {self.weights.shape[0]}")
        return total

    def predict_proba(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> np.ndarray:
        """Calibrated probabilities, shape `(len(texts), len(squads))`, rows summing to 1."""
        return softmax(self.scores(texts, matches), self.temperature)


def fit_logistic(
    x: sp.csr_matrix, y: Sequence[str], squads: list[str], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and intercepts of a multinomial logistic regression (cold start)."""
    clf = LogisticRegression(C=20.0, max_iter=2000, random_state=seed).fit(x, np.asarray(y))
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: softmax([0, s]) is the sigmoid of s
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    index = [list(clf.classes_).index(s) for s in squads]
    return np.ascontiguousarray(coef[index].T, dtype=np.float32), intercept[index]
