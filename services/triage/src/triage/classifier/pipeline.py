"""The fitted scorer: TF-IDF word n-grams + catalogue features -> calibrated linear model.

Choices, measured on the public IT-tickets set (see `bench/classifier.py`):

* Word 1-2-grams only. Character n-grams cost ~5x predict time for ~0.4 pt.
  Sublinear TF lost ~0.3 pt there (the texts are stop-word-stripped and repetition
  carries signal), so `sublinear_tf` is off.
* Term weighting is chosen per training set by a 3-fold CV on the training examples:
  TF-IDF, or plain (l2-normalised) term frequency, which won by 0.2-0.5 pt accuracy and
  ~1 pt coverage on the public set over three seeds (its labels come from topic
  clustering of term frequencies), and was neutral on the demo history.
* LinearSVC inside `CalibratedClassifierCV` (5 stratified folds, isotonic calibration
  when every class has enough examples, sigmoid otherwise). The five calibrated folds are
  averaged, which also smooths the decision and gives probabilities that sum to 1.
* With too few examples per class to cross-validate (cold start from the catalogue alone)
  the model is a multinomial logistic regression, whose probabilities are used as is.
* The fitted vectoriser is compiled into `vectorise.CompiledWordVectoriser` (same matrix,
  ~1.5x faster: vocabulary lookups by token and token pair, no bigram strings).
* The fitted `CalibratedClassifierCV` is compiled into `CompiledCalibrated`: all folds'
  weights in one matrix and the calibrators as plain arrays (`np.interp` / a sigmoid).
  It computes the same probabilities (checked at fit time) without sklearn's per-call
  validation of 5 x n_classes calibrators, which cost ~7 ms per single-case call.
* With enough history (`MIN_EXAMPLES_TO_CHOOSE`), 30 NMF topic weights of the unigram
  TF-IDF (`topics.TopicFeatures`, scaled by `TOPIC_WEIGHT`) are appended: +0.4-0.5 pt
  accuracy and +0.6-0.9 pt coverage at 90% precision on the public set, seeds 0 and 1
  (its labels look like topic clusters), for ~10% of predict time.
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
from triage.classifier.topics import TopicFeatures
from triage.classifier.vectorise import CompiledWordVectoriser

#: Weight of the catalogue columns: strong for a cold start, light once history exists
#: (with history the words already carry the names; heavier weights cost accuracy on the
#: demo history, 94.4% -> 93.6% at 1.0).
COLD_START_CATALOGUE_WEIGHT = 1.0
HISTORY_CATALOGUE_WEIGHT = 0.25
#: Term weightings tried, with the LinearSVC `C` that suited each on the public set.
WEIGHTINGS = {"tfidf": 0.5, "tf": 1.0}
MIN_EXAMPLES_TO_CHOOSE = 2000
#: Scale of the NMF topic columns (`topics.TopicFeatures`, used from MIN_EXAMPLES_TO_CHOOSE).
TOPIC_WEIGHT = 0.5
MIN_PER_CLASS_FOR_CALIBRATION = 3
MIN_PER_CLASS_FOR_ISOTONIC = 200


@dataclass
class Scorer:
    """A fitted vectoriser and classifier; columns of `predict_proba` follow `squads`."""

    squads: list[str]
    vectorizer: CompiledWordVectoriser | TfidfVectorizer
    classifier: Any
    catalogue_weight: float
    kind: str
    topics: TopicFeatures | None = None
    topic_weight: float = 0.0

    def features(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> sp.csr_matrix:
        """The model's input matrix for `texts` and their catalogue matches."""
        blocks = self.blocks(texts, matches)
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def blocks(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> list[Any]:
        """The column blocks of `features` (words, topics, catalogue), not yet stacked."""
        words = self.vectorizer.transform(texts)
        blocks = [words]
        topics = getattr(self, "topics", None)  # absent from scorers pickled before topics
        if topics is not None:
            blocks.append(topics.transform(words) * self.topic_weight)
        if self.catalogue_weight:
            blocks.append(squad_features(matches, self.squads) * self.catalogue_weight)
        return blocks

    def predict_proba(self, texts: Sequence[str], matches: Sequence[Sequence[Match]]) -> np.ndarray:
        """Calibrated probabilities, shape `(len(texts), len(squads))`, rows summing to 1."""
        if isinstance(self.classifier, CompiledCalibrated):  # no stacking: block by block
            return self.classifier.predict_proba(self.blocks(texts, matches))
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            proba = self.classifier.predict_proba(self.features(texts, matches))
        return np.asarray(proba, dtype=np.float64)


def fit_scorer(
    texts: Sequence[str],
    labels: Sequence[str],
    matches: Sequence[Sequence[Match]],
    *,
    seed: int = 0,
    catalogue_weight: float = HISTORY_CATALOGUE_WEIGHT,
) -> Scorer:
    """Fit a scorer on labelled texts.

    Args:
        texts: Case texts (title and description joined).
        labels: The owning squad of each text.
        matches: Catalogue matches of each text (`CatalogueMatcher.find`).
        seed: Seed for the cross-validation folds.
        catalogue_weight: Scale of the catalogue-evidence columns (0 drops them).

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
    y = np.asarray(labels)
    smallest = min(counts.values())
    weighting = _choose_weighting(texts, y, smallest, seed)
    fitted = _vectorizer(weighting).fit(texts)
    scorer = Scorer(squads, _compile(fitted, texts), None, catalogue_weight, "")
    if len(texts) >= MIN_EXAMPLES_TO_CHOOSE:
        scorer.topics = TopicFeatures.fit(texts, fitted, seed=seed)
        scorer.topic_weight = TOPIC_WEIGHT if scorer.topics is not None else 0.0
    inputs = weighting if scorer.topics is None else f"{weighting}+topics{scorer.topics.n_topics}"
    x = scorer.features(texts, matches)
    if smallest >= MIN_PER_CLASS_FOR_CALIBRATION:
        method = "isotonic" if smallest >= MIN_PER_CLASS_FOR_ISOTONIC else "sigmoid"
        clf: Any = CalibratedClassifierCV(
            LinearSVC(C=WEIGHTINGS[weighting], random_state=seed),
            cv=_folds(smallest, seed),
            method=method,
        )
        scorer.kind = f"{inputs}+linearsvc+calibrated-{method}"
    else:
        clf = LogisticRegression(C=20.0, max_iter=2000, random_state=seed)
        scorer.kind = f"{inputs}+logreg"
    clf.fit(x, y)
    if list(clf.classes_) != squads:  # pragma: no cover - sklearn sorts classes
        raise TrainingError("classifier classes do not match the squads")
    if isinstance(clf, CalibratedClassifierCV):
        compiled = CompiledCalibrated.from_sklearn(clf)
        sample = x[: min(x.shape[0], 500)]
        if not np.allclose(compiled.predict_proba(sample), clf.predict_proba(sample), atol=1e-6):
            raise TrainingError("compiled calibrated model disagrees with scikit-learn")
        clf = compiled
    scorer.classifier = clf
    return scorer


@dataclass
class CompiledCalibrated:
    """A fitted `CalibratedClassifierCV` over linear models, as plain arrays.

    `weights` stacks every fold's `coef_.T` (columns fold-major), `tables[f][j]` is the
    calibrator of fold `f`'s column `j`: `("isotonic", x, y)` or `("sigmoid", a, b)`.
    Probabilities are normalised per fold and averaged over folds, as scikit-learn does.
    """

    classes_: np.ndarray
    weights: np.ndarray
    intercepts: np.ndarray
    columns: list[list[int]]
    tables: list[list[tuple[str, Any, Any]]]

    @classmethod
    def from_sklearn(cls, model: CalibratedClassifierCV) -> CompiledCalibrated:
        """Compile a fitted `CalibratedClassifierCV` whose folds are linear models."""
        weights, intercepts, columns, tables = [], [], [], []
        n_classes = len(model.classes_)
        for fold in model.calibrated_classifiers_:
            est = fold.estimator
            weights.append(np.asarray(est.coef_, dtype=np.float64).T)
            intercepts.append(np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64)))
            index = np.searchsorted(model.classes_, est.classes_)
            cols = [1] if n_classes == 2 else [int(i) for i in index]
            columns.append(cols)
            fold_tables: list[tuple[str, Any, Any]] = []
            for calibrator in fold.calibrators:
                if hasattr(calibrator, "X_thresholds_"):
                    fold_tables.append(
                        (
                            "isotonic",
                            calibrator.X_thresholds_.copy(),
                            calibrator.y_thresholds_.copy(),
                        )
                    )
                else:
                    fold_tables.append(("sigmoid", float(calibrator.a_), float(calibrator.b_)))
            tables.append(fold_tables)
        return cls(
            classes_=np.asarray(model.classes_),
            weights=np.ascontiguousarray(np.hstack(weights)),
            intercepts=np.concatenate(intercepts),
            columns=columns,
            tables=tables,
        )

    def predict_proba(self, x: Any) -> np.ndarray:
        """Averaged calibrated probabilities, shape `(n, n_classes)`.

        Args:
            x: The input matrix, or a list of its column blocks (left to right).
        """
        if isinstance(x, list):
            scores = np.asarray(x[0] @ self.weights[: x[0].shape[1]]) + self.intercepts
            start = x[0].shape[1]
            for block in x[1:]:
                scores += np.asarray(block @ self.weights[start : start + block.shape[1]])
                start += block.shape[1]
            if start != self.weights.shape[0]:
                raise ValueError(f"blocks have {start} columns, the model {self.weights.shape[0]}")
        else:
            scores = np.asarray(x @ self.weights) + self.intercepts
        n, k = scores.shape[0], len(self.classes_)
        total = np.zeros((n, k))
        offset = 0
        for cols, tables in zip(self.columns, self.tables, strict=True):
            proba = np.zeros((n, k))
            for j, (class_idx, (method, p, q)) in enumerate(zip(cols, tables, strict=True)):
                f = scores[:, offset + j]
                if method == "isotonic":
                    proba[:, class_idx] = np.interp(f, p, q)
                else:
                    proba[:, class_idx] = 1.0 / (1.0 + np.exp(p * f + q))
            offset += len(cols)
            if k == 2:
                proba[:, 0] = 1.0 - proba[:, 1]
            else:
                denominator = proba.sum(axis=1, keepdims=True)
                proba = np.divide(
                    proba, denominator, out=np.full_like(proba, 1 / k), where=denominator != 0
                )
            total += proba
        return total / len(self.columns)


def _compile(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> CompiledWordVectoriser:
    compiled = CompiledWordVectoriser.from_sklearn(vectorizer)
    sample = list(texts[:500])
    if abs(compiled.transform(sample) - vectorizer.transform(sample)).max() > 1e-5:
        raise TrainingError("compiled vectoriser disagrees with scikit-learn")
    return compiled


def _vectorizer(weighting: str) -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        token_pattern=VECTORISER_TOKEN_PATTERN,
        use_idf=weighting == "tfidf",
        dtype=np.float32,
    )


def _choose_weighting(texts: Sequence[str], y: np.ndarray, smallest: int, seed: int) -> str:
    """`tfidf` or `tf`, whichever a 3-fold CV of a plain LinearSVC scores higher.

    Only with enough history (`MIN_EXAMPLES_TO_CHOOSE`); else `tfidf`. The choice uses
    the training examples only, so a held-out evaluation stays honest.
    """
    if len(texts) < MIN_EXAMPLES_TO_CHOOSE or smallest < 3:
        return "tfidf"
    from sklearn.model_selection import cross_val_score

    scores = {}
    for weighting, c in WEIGHTINGS.items():
        x = _vectorizer(weighting).fit_transform(texts)
        model = LinearSVC(C=c, random_state=seed)
        scores[weighting] = float(np.mean(cross_val_score(model, x, y, cv=_folds(3, seed))))
    return max(scores, key=lambda w: (scores[w], w == "tfidf"))


def _folds(smallest: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
