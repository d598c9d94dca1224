"""Calibration: one temperature for the softmax of the linear model's decision scores.

`p = softmax(scores / T)`, with `T` fitted by minimising the log-loss of the out-of-fold
scores of the training history (`selection`). One parameter cannot overfit a squad with
three cases, which per-class isotonic or sigmoid calibration does with dozens of
imbalanced squads; it keeps the ranking of the scores and only makes the confidence
honest on average (the reliability curve of `triage evaluate --report` shows how honest).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

LOG_T_BOUNDS = (-6.0, 4.0)


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of `scores / temperature`."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature minimising the mean log-loss of `softmax(scores / T)`.

    Args:
        scores: Decision scores, `(n, n_classes)`.
        truth: Column index of each row's true class.
    """
    if len(truth) == 0:
        return 1.0
    rows = np.arange(len(truth))

    def loss(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[rows, truth]))

    found = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded")
    return float(np.exp(found.x))
