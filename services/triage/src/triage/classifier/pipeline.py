"""The fitted scorer: TF-IDF word n-grams + catalogue features -> calibrated linear model.

Choices, measured on the public IT-tickets set (see `bench/classifier.py`):

* Word 1-2-grams only. Character n-grams cost ~5x predict time for ~0.4 pt.
  Plain term frequency beat sublinear TF there (the texts are stop-word-stripped and
  repetition carries signal), so `sublinear_tf` is off.
* LinearSVC inside `CalibratedClassifierCV` (5 stratified folds, isotonic calibration
  when every class has enough examples, sigmoid otherwise). The five calibrated folds are
  averaged, which also smooths the decision and gives probabilities that sum to 1.
* With too few examples per class to cross-validate (cold start from the catalogue alone)
  the model is a multinomial logistic regression, whose probabilities are used as is.
* Catalogue evidence (per-squad counts of matched names/aliases and keywords, see
  `features.squad_features`) is appended to the TF-IDF columns with a fixed weight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from triage.classifier.errors import TrainingError
from triage.classifier.features import VECTORISER_TOKEN_PATTERN, Match, squad_features

CATALOGUE_WEIGHT = 1.0
SVC_C = 1.0
MIN_PER_CLASS_FOR_CALIBRATION = 3
MIN_PER_CLASS_FOR_ISOTONIC = 200


@dataclass
class Scorer:
    """A fitted vectoriser and classifier; columns of `predict_proba` follow `squads`."""

    squads: list[str]
    vectorizer: TfidfVectorizer
    classifier: Any
    catalogue_weight: float
    kind: str

    def features(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> sp.csr_matrix:
        """The model's input matrix for `texts` and their catalogue matches."""
        words = self.vectorizer.transform(texts)
        if not self.catalogue_weight:
            return words
        cat = squad_features(matches, self.squads) * self.catalogue_weight
        return sp.hstack([words, cat], format="csr")

    def predict_proba(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> np.ndarray:
        """Calibrated probabilities, shape `(len(texts), len(squads))`, rows summing to 1."""
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            proba = self.classifier.predict_proba(self.features(texts, matches))
        return np.asarray(proba, dtype=np.float64)


def fit_scorer(
    texts: Sequence[str],
    labels: Sequence[str],
    matches: Sequence[Sequence[Match]],
    *,
    seed: int = 0,
) -> Scorer:
    """Fit a scorer on labelled texts.

    Args:
        texts: Case texts (title and description joined).
        labels: The owning squad of each text.
        matches: Catalogue matches of each text (`CatalogueMatcher.find`).
        seed: Seed for the cross-validation folds.

    Returns:
        The fitted scorer.

    Raises:
        TrainingError: Fewer than two squads to tell apart.
    """
    counts = Counter(labels)
    if len(counts) < 2:
        raise TrainingError(
            f"need examples of at least two squads to train, found {sorted(counts) or 'none'}"
        )
    squads = sorted(counts)
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN, dtype=np.float32
    )
    vectorizer.fit(texts)
    scorer = Scorer(squads, vectorizer, None, CATALOGUE_WEIGHT, "")
    x = scorer.features(texts, matches)
    y = np.asarray(labels)
    smallest = min(counts.values())
    if smallest >= MIN_PER_CLASS_FOR_CALIBRATION:
        method = "isotonic" if smallest >= MIN_PER_CLASS_FOR_ISOTONIC else "sigmoid"
        clf: Any = CalibratedClassifierCV(
            LinearSVC(C=SVC_C, random_state=seed),
            cv=_folds(smallest, seed),
            method=method,
        )
        scorer.kind = f"linearsvc+calibrated-{method}"
    else:
        clf = LogisticRegression(C=20.0, max_iter=2000, random_state=seed)
        scorer.kind = "logreg"
    clf.fit(x, y)
    if list(clf.classes_) != squads:  # pragma: no cover - sklearn sorts classes
        raise TrainingError("classifier classes do not match the squads")
    scorer.classifier = clf
    return scorer


def _folds(smallest: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
