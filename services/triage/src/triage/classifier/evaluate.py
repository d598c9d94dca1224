"""Evaluation: accuracy, macro-F1, top-3, and how much can be auto-assigned how precisely.

* `coverage` at a threshold is the share of cases the model would assign (decision
  `assign`); `precision` is the share of those it got right.
* `coverage_at_90` is the largest share of cases that can be assigned, most confident
  first, while keeping precision >= 90%. It depends only on the ranking of the confidence,
  so it compares calibrated and uncalibrated models fairly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

if TYPE_CHECKING:
    from triage.classifier.model import LabelledCase, TriageModel

TARGET_PRECISION = 0.9
_CURVE_POINTS = 200


@dataclass
class EvaluationReport:
    """Figures from one evaluation; `n == 0` means there was nothing to evaluate."""

    n: int = 0
    accuracy: float | None = None
    macro_f1: float | None = None
    top3_accuracy: float | None = None
    threshold: float | None = None
    target_precision: float | None = None
    coverage: float | None = None
    precision: float | None = None
    coverage_at_90: float | None = None
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    curve: list[tuple[float, float, float]] = field(default_factory=list)
    reliability: list[tuple[float, float, int]] = field(default_factory=list)
    squads: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline figures (no matrix, curves or per-squad rows), e.g. for a manifest."""
        data = asdict(self)
        for key in ("labels", "confusion", "curve", "reliability", "squads"):
            data.pop(key)
        return data


def coverage_at_precision(
    confidence: np.ndarray, correct: np.ndarray, target: float = TARGET_PRECISION
) -> float:
    """Largest share assignable (most confident first) with precision >= `target`."""
    if len(confidence) == 0:
        return 0.0
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(running >= target)
    return float((ok.max() + 1) / len(order)) if len(ok) else 0.0


def precision_coverage_curve(
    confidence: np.ndarray, correct: np.ndarray
) -> list[tuple[float, float, float]]:
    """`(coverage, precision, threshold)` points, most confident first, downsampled."""
    if len(confidence) == 0:
        return []
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    picks = np.unique(np.linspace(0, len(order) - 1, min(_CURVE_POINTS, len(order))).astype(int))
    n = len(order)
    return [(float((i + 1) / n), float(running[i]), float(confidence[order[i]])) for i in picks]


def reliability_curve(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> list[tuple[float, float, int]]:
    """`(mean confidence, share correct, cases)` per confidence bin (empty bins left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                (float(confidence[mask].mean()), float(correct[mask].mean()), int(mask.sum()))
            )
    return out


def per_squad(
    truth: np.ndarray, pred: np.ndarray, assigned: np.ndarray | None, squads: Sequence[str]
) -> list[dict[str, Any]]:
    """Support, precision and recall of each squad, and of its automatic assignments."""
    rows = []
    for squad in sorted(set(squads) | set(truth.tolist())):
        actual = truth == squad
        said = pred == squad
        hit = actual & said
        row: dict[str, Any] = {
            "squad": squad,
            "support": int(actual.sum()),
            "precision": float(hit.sum() / said.sum()) if said.any() else None,
            "recall": float(hit.sum() / actual.sum()) if actual.any() else None,
        }
        if assigned is not None:
            auto = said & assigned
            row["assigned"] = int(auto.sum())
            row["assigned_precision"] = (
                float((auto & actual).sum() / auto.sum()) if auto.any() else None
            )
        rows.append(row)
    return rows


def evaluate_scores(
    truth: Sequence[str],
    squads: Sequence[str],
    proba: np.ndarray,
    *,
    assigned: np.ndarray | None = None,
    threshold: float | None = None,
) -> EvaluationReport:
    """Evaluate probabilities (or any scores, columns in `squads` order) against `truth`.

    Args:
        truth: The true squad of each case.
        squads: Column names of `proba`.
        proba: Scores, shape `(n, len(squads))`; higher is more likely.
        assigned: Which cases would be auto-assigned; defaults to `top score >= threshold`.
        threshold: The threshold `assigned` was decided at, for the record.

    Returns:
        The report.
    """
    y = np.asarray(truth)
    n = len(y)
    if n == 0:
        return EvaluationReport(notes=["no held-out cases to evaluate"])
    names = np.asarray(squads)
    order = np.argsort(-proba, axis=1, kind="stable")
    pred = names[order[:, 0]]
    correct = pred == y
    top3 = (names[order[:, :3]] == y[:, None]).any(axis=1)
    confidence = proba[np.arange(n), order[:, 0]]
    if assigned is None and threshold is not None:
        assigned = confidence >= threshold
    labels = sorted(set(squads) | set(y.tolist()))
    report = EvaluationReport(
        n=n,
        accuracy=float(correct.mean()),
        macro_f1=float(
            f1_score(y, pred, average="macro", labels=sorted(set(y.tolist())), zero_division=0)
        ),
        top3_accuracy=float(top3.mean()),
        threshold=threshold,
        coverage_at_90=coverage_at_precision(confidence, correct),
        labels=labels,
        confusion=confusion_matrix(y, pred, labels=labels).tolist(),
        curve=precision_coverage_curve(confidence, correct),
        reliability=reliability_curve(confidence, correct),
        squads=per_squad(y, pred, assigned, squads),
    )
    if assigned is not None:
        report.coverage = float(assigned.mean())
        report.precision = float(correct[assigned].mean()) if assigned.any() else None
    unknown = sorted(set(y.tolist()) - set(squads))
    if unknown:
        report.notes.append(f"labels the model cannot predict: {', '.join(unknown)}")
    return report


def evaluate_model(
    model: TriageModel, examples: Sequence[LabelledCase], *, threshold: float | None = None
) -> EvaluationReport:
    """Evaluate a model on labelled cases; coverage counts cases decided `assign`.

    The decision uses the model's thresholds in force, or the explicit `threshold`.
    """
    from triage.classifier.model import CaseText

    cases = [CaseText(e.title, e.description) for e in examples]
    if not cases:
        return EvaluationReport(notes=["no cases to evaluate"])
    proba = model.predict_proba(cases)
    results = model.predict(cases, threshold=threshold)
    assigned = np.array([r.decision == "assign" for r in results])
    report = evaluate_scores(
        [e.squad for e in examples], model.squads, proba, assigned=assigned, threshold=threshold
    )
    if threshold is None and model.operating is not None:
        report.target_precision = model.operating.target
    return report
