"""Choosing a configuration per history: stratified cross-validation of the candidates.

Each candidate (`candidates.CANDIDATES`) is scored by `FOLDS`-fold stratified
cross-validation on the history; the catalogue's pseudo documents join every training
fold and are never scored. The out-of-fold decision scores of every case are kept: they
are what calibration and the assignment thresholds are derived from.

**Criterion.** `score = (accuracy + macro-F1) / 2` of the out-of-fold predictions. The
plain `baseline` is chosen unless a candidate scores at least `MIN_GAIN` more *and* is
no worse than the baseline by more than `MAX_LOSS` on accuracy and on macro-F1 alone.
Among those, the highest score wins (ties: the earlier, simpler candidate).

**Budget.** A one-vs-rest linear SVM solves one binary problem per squad and reads every
stored entry (non-zero) of its matrix once per solver iteration, so its time grows with
entries times squads, not with cases: a full-length ticket holds ~460 word, character and
topic entries, a 6-20-word case ~200. Histories larger than `MAX_SELECTION_CASES` cases,
or whose widest candidate matrix times squads exceeds `MAX_SELECTION_WORK`, are
cross-validated on a stratified subsample of as many cases as fit both (`case_budget`;
every squad keeps at least `min(count, 10)` cases),
restricted to the feature columns the subsample and the pseudo documents use (the
vectorisers saw the whole history: most of its columns are empty in a subsample, and
each would cost a weight per squad in every fold model); the chosen configuration is
then refitted on the whole history, or on a stratified subsample holding
`MAX_FINAL_WORK` when the whole history is more work (`train.final_rows`). Both budgets
keep a 50,000-case history of full-length tickets within 60 CPU seconds on one core
(`python -m bench train_time`); short-text histories and histories of a few thousand cases
are not affected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from triage.classifier.candidates import BASELINE, Candidate

FOLDS = 3
MAX_SELECTION_CASES = 8000
#: Work cross-validation may take: stored entries of the widest candidate's matrix times
#: the binary problems (squads) each fit solves. Large enough that ~6,000 full-length cases or
#: 8,000 short ones over ~70 squads are cross-validated whole (README, training time).
MAX_SELECTION_WORK = 190_000_000
#: The same for the final fit of the chosen configuration.
MAX_FINAL_WORK = 640_000_000
MIN_KEEP_PER_SQUAD = 10
MIN_GAIN = 0.002
MAX_LOSS = 0.01
#: Score of a squad a fold model never saw (it cannot predict it).
ABSENT_SCORE = -10.0


@dataclass
class CandidateScore:
    """Cross-validated figures of one candidate."""

    name: str
    accuracy: float
    macro_f1: float
    seconds: float
    chosen: bool = False
    note: str = ""

    @property
    def score(self) -> float:
        """The selection criterion: mean of accuracy and macro-F1."""
        return (self.accuracy + self.macro_f1) / 2

    def as_dict(self) -> dict[str, Any]:
        """For the manifest and reports."""
        return {
            "name": self.name,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "score": round(self.score, 4),
            "seconds": round(self.seconds, 2),
            "chosen": self.chosen,
            "note": self.note,
        }


@dataclass
class Selection:
    """The outcome of cross-validation: scores of all, the winner and its OOF scores."""

    scores: list[CandidateScore]
    chosen: Candidate
    oof: np.ndarray  # decision scores of the evaluated history rows, (n, n_squads)
    rows: np.ndarray  # which history rows were evaluated (all, or the subsample)
    # the winner's folds, averaged; None after a subsample (the winner is refitted on all)
    fold_weights: tuple[np.ndarray, np.ndarray] | None
    criterion: str = field(
        default=(
            "mean of out-of-fold accuracy and macro-F1; the baseline unless a candidate "
            f"beats it by >= {MIN_GAIN} without losing > {MAX_LOSS} on either"
        )
    )


def assign_folds(labels: Sequence[str], k: int, seed: int) -> np.ndarray:
    """A fold number per case, stratified: each squad's cases are dealt round-robin.

    Works for squads with fewer cases than folds (they miss some folds), where
    scikit-learn's `StratifiedKFold` warns.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    folds = np.empty(len(y), dtype=np.int64)
    for squad in np.unique(y):
        idx = np.flatnonzero(y == squad)
        rng.shuffle(idx)
        folds[idx] = (np.arange(len(idx)) + rng.integers(k)) % k
    return folds


def subsample(labels: Sequence[str], limit: int, seed: int) -> np.ndarray:
    """Row indices of a stratified subsample of about `limit` rows (all when fewer)."""
    y = np.asarray(labels)
    if len(y) <= limit:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    share = limit / len(y)
    keep: list[np.ndarray] = []
    for squad in np.unique(y):
        idx = np.flatnonzero(y == squad)
        n = max(min(len(idx), MIN_KEEP_PER_SQUAD), round(share * len(idx)))
        keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def problems(labels: Sequence[str]) -> int:
    """Binary problems a one-vs-rest fit on `labels` solves: one per squad, one for two."""
    n = len(set(labels))
    return 1 if n <= 2 else n


def case_budget(n_cases: int, work: int, max_work: int, max_cases: int | None = None) -> int:
    """How many of `n_cases` history cases to fit on, when fitting all of them is `work`.

    All of them while `work <= max_work` (and `n_cases <= max_cases`); else as many as fit
    `max_work` at the history's mean work per case. `work` is stored entries times binary
    problems: the solver reads every entry once per iteration of each squad's problem.
    """
    limit = n_cases if max_cases is None else min(n_cases, max_cases)
    if work <= max_work:
        return limit
    return min(limit, max(1, int(max_work * n_cases / work)))


def fit_linear(x: sp.csr_matrix, y: np.ndarray, candidate: Candidate, seed: int) -> LinearSVC:
    """Fit the candidate's linear SVM."""
    clf = LinearSVC(
        C=candidate.c, class_weight=candidate.class_weight(y.tolist()), random_state=seed
    )
    return clf.fit(x, y)


def linear_weights(clf: Any, squads: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`(weights (n_features, len(squads)), intercepts)` of a fitted linear model.

    Squads the model never saw get zero weights and `ABSENT_SCORE` as intercept; a binary
    model's single column becomes `[0, w]` (softmax of that is the sigmoid of `w`).
    """
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(clf.intercept_, dtype=np.float64))
    classes = list(clf.classes_)
    if len(classes) == 2:
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    index = {s: i for i, s in enumerate(squads)}
    at = np.asarray([index[s] for s in classes], dtype=np.int64)
    rows = np.zeros((len(squads), coef.shape[1]), dtype=np.float32)
    rows[at] = coef  # whole rows, then one transposing copy (columns one by one: 10x slower)
    bias = np.full(len(squads), ABSENT_SCORE)
    bias[at] = intercept
    return np.ascontiguousarray(rows.T), bias


def cross_validate(
    candidate: Candidate,
    x: sp.csr_matrix,
    y: np.ndarray,
    extra_x: sp.csr_matrix,
    extra_y: np.ndarray,
    folds: np.ndarray,
    squads: list[str],
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold decision scores of `candidate`, shape `(len(y), len(squads))`, and the
    mean of the fold models' weights and intercepts.

    `extra_x`/`extra_y` (catalogue pseudo documents) join every training fold.
    """
    out = np.empty((len(y), len(squads)))
    total_w = np.zeros((x.shape[1], len(squads)), dtype=np.float32)
    total_b = np.zeros(len(squads))
    present = np.zeros(len(squads))
    index = {s: i for i, s in enumerate(squads)}
    for fold in np.unique(folds):
        test = folds == fold
        train_x = sp.vstack([x[~test], extra_x], format="csr")
        train_y = np.concatenate([y[~test], extra_y])
        if len(np.unique(train_y)) < 2:
            out[test] = 0.0
            continue
        weights, bias = linear_weights(fit_linear(train_x, train_y, candidate, seed), squads)
        out[test] = np.asarray(x[test] @ weights) + bias
        seen = np.zeros(len(squads), dtype=bool)
        seen[[index[s] for s in np.unique(train_y)]] = True
        total_w[:, seen] += weights[:, seen]
        total_b[seen] += bias[seen]
        present += seen
    # a squad a fold never saw (one case, held out) is averaged over the folds that saw it
    mean_b = np.where(present > 0, total_b / np.maximum(present, 1), ABSENT_SCORE)
    return out, total_w / np.maximum(present, 1).astype(np.float32), mean_b


def measure(y: np.ndarray, scores: np.ndarray, squads: Sequence[str]) -> tuple[float, float]:
    """`(accuracy, macro-F1)` of the argmax of `scores` (macro over the squads in `y`)."""
    pred = np.asarray(squads)[np.argmax(scores, axis=1)]
    labels = sorted(set(y.tolist()))
    f1 = f1_score(y, pred, labels=labels, average="macro", zero_division=0)
    return float((pred == y).mean()), float(f1)


def choose(scores: Sequence[CandidateScore]) -> CandidateScore:
    """The winner by the module's criterion; `scores` must contain the baseline."""
    base = next(s for s in scores if s.name == BASELINE.name)
    best = base
    for s in scores:
        if (
            s is not base
            and s.score >= base.score + MIN_GAIN
            and s.accuracy >= base.accuracy - MAX_LOSS
            and s.macro_f1 >= base.macro_f1 - MAX_LOSS
            and s.score > best.score
        ):
            best = s
    return best


def select(
    pool: Sequence[Candidate],
    matrix: Callable[[Candidate], sp.csr_matrix],
    y: np.ndarray,
    n_history: int,
    squads: list[str],
    *,
    seed: int,
    step: Callable[[str], None] = lambda _label: None,
    clock: Callable[[], float],
) -> Selection:
    """Cross-validate every candidate in `pool` and choose one.

    Args:
        pool: Candidates, the baseline among them.
        matrix: The training matrix of a candidate: history rows first (`n_history`),
            then the catalogue's pseudo documents.
        y: Labels of every row of those matrices.
        n_history: How many leading rows are history (scored) rather than pseudo documents.
        squads: Column order of the scores.
        seed: Seed for the subsample, the folds and the SVMs.
        step: Called with a label before each candidate (progress display).
        clock: A monotonic clock (seconds).
    """
    history_y = y[:n_history]
    widest = max(pool, key=lambda c: (c.char, c.topics))
    work = int(matrix(widest).indptr[n_history]) * problems(y.tolist())
    limit = case_budget(n_history, work, MAX_SELECTION_WORK, MAX_SELECTION_CASES)
    rows = subsample(history_y.tolist(), limit, seed)
    folds = assign_folds(history_y[rows].tolist(), FOLDS, seed)
    extra = np.arange(n_history, len(y))
    results: list[CandidateScore] = []
    oof: dict[str, np.ndarray] = {}
    averaged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sampled = len(rows) < n_history
    for candidate in pool:
        step(f"cross-validating {candidate.name} ({FOLDS} folds, {len(rows)} cases)")
        started = clock()
        x = matrix(candidate)
        x_rows, x_extra = x[rows], x[extra]
        if sampled:  # only the columns the subsample uses: smaller models, faster fits
            used = np.union1d(x_rows.indices, x_extra.indices)
            x_rows, x_extra = x_rows[:, used], x_extra[:, used]
        scores, weights, bias = cross_validate(
            candidate, x_rows, history_y[rows], x_extra, y[extra], folds, squads, seed
        )
        if not sampled:
            averaged[candidate.name] = (weights, bias)
        accuracy, macro_f1 = measure(history_y[rows], scores, squads)
        results.append(CandidateScore(candidate.name, accuracy, macro_f1, clock() - started))
        oof[candidate.name] = scores
    best = choose(results)
    best.chosen = True
    chosen = next(c for c in pool if c.name == best.name)
    return Selection(results, chosen, oof[best.name], rows, averaged.get(best.name))
