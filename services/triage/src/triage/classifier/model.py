"""The trained model as others use it: `TriageModel.predict(cases)`.

Decision rules for one case (reasons are a subset of these, in this order):

* `unowned` — the case names (by name, title, alias or hint) a component with no owner.
  Unowned components never produce a squad label.
* `low_confidence` — the top squad's calibrated probability is below its threshold: the
  squad's own threshold for the model's target precision (`operating`, see
  `thresholds`), or the explicit `threshold` when one is given (`ASSIGN_THRESHOLD`). A
  *rare* squad (too few history cases) has no threshold: it is assigned only when the case
  names one of its components, at the global threshold (or the explicit one), else the
  reason is `low_confidence`.
* `cross_squad` — components of different squads are named (by name, title, alias or
  hint; keyword matches alone are too loose to call a case cross-squad), or the two most
  likely squads are less than `margin` apart.

The result carries these as the model's `recommendation` (squad, confidence, the squad's
threshold and where it comes from, the target precision, whether the threshold is met,
`action`: `assign` when there is no reason, else `escalate`, and the reasons); `decision` and
`reasons` repeat `action` and the reasons for older readers. The router's routing policy
makes the decision.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from contracts.cases import Decision, ThresholdSource, TriageResult
from contracts.catalogue import Catalogue
from triage.classifier.features import CatalogueMatcher, Match
from triage.classifier.pipeline import Scorer
from triage.classifier.thresholds import DEFAULT_TARGET, MIN_EXAMPLES, OperatingPoint, derive

TOP_K = 3
DEFAULT_MARGIN = 0.1
#: Threshold for a case naming a rare squad's component when no global threshold exists.
CATALOGUE_FALLBACK_THRESHOLD = 0.6
#: Probabilities are reported at most this high: a linear model is never certain, and a
#: threshold of 1.0 then means "never".
MAX_PROBABILITY = 0.9999


def other_reasons(found: Sequence[Match], p1: float, p2: float, margin: float) -> list[str]:
    """The reasons besides confidence: `unowned`, `cross_squad` (see the module docstring)."""
    reasons = []
    if any(m.owner is None and m.strong for m in found):
        reasons.append("unowned")
    if p1 - p2 < margin or len({m.owner for m in found if m.strong and m.owner}) > 1:
        reasons.append("cross_squad")
    return reasons


@dataclass(frozen=True)
class CaseText:
    """The text of one case, as the classifier reads it."""

    title: str
    description: str
    component: str | None = None

    @property
    def text(self) -> str:
        """Title and description joined."""
        return f"{self.title}\n{self.description}" if self.title else self.description


@dataclass(frozen=True)
class LabelledCase:
    """A case with the squad that owned it: one training example."""

    title: str
    description: str
    squad: str

    @property
    def text(self) -> str:
        """Title and description joined."""
        return f"{self.title}\n{self.description}" if self.title else self.description


@dataclass
class TriageModel:
    """A trained classifier bound to a catalogue.

    Attributes:
        version: Version id of the trained model (also recorded in its manifest).
        squads: Squads the model can predict, sorted.
        metrics: Out-of-fold evaluation figures from training (empty for a cold start).
        trained_at: When it was trained (UTC).
        operating: The thresholds in force (see `use_target`).
    """

    version: str
    squads: list[str]
    metrics: dict[str, Any]
    trained_at: datetime
    scorer: Scorer
    catalogue: Catalogue
    info: dict[str, Any] = field(default_factory=dict)
    operating: OperatingPoint | None = None
    _matcher: CatalogueMatcher | None = field(default=None, repr=False)
    matcher: CatalogueMatcher = field(init=False, repr=False)
    """The catalogue matcher: the one given as `_matcher`, else built with the model."""

    def __post_init__(self) -> None:
        # At load, not on the first predict (which runs inside an intake transaction).
        self.matcher = self._matcher or CatalogueMatcher(self.catalogue)
        if self.operating is None:
            self.operating = self.operating_point(DEFAULT_TARGET)

    def operating_point(self, target: float, *, min_examples: int | None = None) -> OperatingPoint:
        """Thresholds for `target` precision from the training evidence (`thresholds`).

        Without evidence (cold start) every squad is rare: only cases naming a component
        are assigned.
        """
        minimum = min_examples if min_examples is not None else self._min_examples()
        ev = self.scorer.evidence
        if ev is None:
            empty = np.zeros(0, dtype=np.int64)
            return derive(
                self.squads, {}, empty, empty.astype(float), empty.astype(bool),
                empty.astype(bool), target=target, min_examples=max(minimum, 1),
            )  # fmt: skip
        return derive(
            self.squads, ev.support, ev.predicted, ev.confidence, ev.correct, ev.eligible,
            target=target, min_examples=minimum,
        )  # fmt: skip

    def _min_examples(self) -> int:
        return self.operating.min_examples if self.operating is not None else MIN_EXAMPLES

    def use_target(self, target: float) -> TriageModel:
        """Make the thresholds for `target` precision the ones in force; returns self."""
        if self.operating is None or self.operating.target != target:
            self.operating = self.operating_point(target)
        return self

    def assigned_mask(
        self,
        predicted: np.ndarray,
        confidence: np.ndarray,
        eligible: np.ndarray,
        operating: OperatingPoint,
    ) -> np.ndarray:
        """Which cases (top squad index, confidence, eligibility) the thresholds assign.

        Cases naming components are not known here: rare squads count as never assigned.
        """
        limits = np.array(
            [np.inf if (t := operating.threshold(s)) is None else t for s in self.squads]
        )
        return eligible & (confidence >= limits[predicted]) if len(predicted) else eligible

    def match(self, cases: Sequence[CaseText]) -> list[list[Match]]:
        """Catalogue matches of each case."""
        find = self.matcher.find
        return [find(c.text, c.component) for c in cases]

    def predict_proba(self, cases: Sequence[CaseText]) -> np.ndarray:
        """Calibrated probabilities, columns in `squads` order."""
        return self.scorer.predict_proba([c.text for c in cases], self.match(cases))

    def predict(
        self,
        cases: Sequence[CaseText],
        *,
        threshold: float | None = None,
        margin: float = DEFAULT_MARGIN,
    ) -> list[TriageResult]:
        """Predict the owning squad of each case with a decision.

        Args:
            cases: The cases to classify.
            threshold: One explicit minimum probability for every squad instead of the
                per-squad thresholds in force (`operating`).
            margin: Top-2 probability gap under which a case spans squads.

        Returns:
            One `TriageResult` per case, in order.
        """
        if not cases:
            return []
        # Many short-lived acyclic objects: keep the cyclic GC from walking the model's
        # large vocabulary mid-batch (~20% of batch time); restored on exit.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._predict(cases, threshold, margin)
        finally:
            if was_enabled:
                gc.enable()

    def _predict(
        self, cases: Sequence[CaseText], threshold: float | None, margin: float
    ) -> list[TriageResult]:
        matches = self.match(cases)
        proba = self.scorer.predict_proba([c.text for c in cases], matches)
        k = min(TOP_K, len(self.squads))
        if proba.shape[1] > 2 * k:  # the k largest first, then only those sorted
            top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
            within = np.argsort(-np.take_along_axis(proba, top, axis=1), axis=1, kind="stable")
            order = np.take_along_axis(top, within, axis=1)
        else:
            order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        top_p = np.take_along_axis(proba, order, axis=1).tolist()
        squads = self.squads
        results = []
        for row, probs, found in zip(order.tolist(), top_p, matches, strict=True):
            results.append(self._result([squads[i] for i in row], probs, found, threshold, margin))
        return results

    def threshold_for(
        self, squad: str, found: Sequence[Match], explicit: float | None = None
    ) -> float | None:
        """The confidence `squad` needs for this case (None: it cannot be assigned)."""
        return self.threshold_with_source(squad, found, explicit)[0]

    def threshold_with_source(
        self, squad: str, found: Sequence[Match], explicit: float | None = None
    ) -> tuple[float | None, ThresholdSource]:
        """`threshold_for` with where the threshold comes from."""
        op = self.operating
        assert op is not None
        point = op.squads.get(squad)
        if point is not None and point.source == "rare":
            if not any(m.strong and m.owner == squad for m in found):
                return None, ThresholdSource.RARE
            if explicit is not None:
                return explicit, ThresholdSource.EXPLICIT
            glob = op.global_threshold
            named = glob if glob is not None else CATALOGUE_FALLBACK_THRESHOLD
            return named, ThresholdSource.RARE
        if explicit is not None:
            return explicit, ThresholdSource.EXPLICIT
        source = ThresholdSource.GLOBAL if point is None else ThresholdSource(point.source)
        return op.threshold(squad), source

    def _result(
        self,
        names: list[str],
        probs: list[float],
        found: list[Match],
        threshold: float | None,
        margin: float,
    ) -> TriageResult:
        probs = [min(max(p, 0.0), MAX_PROBABILITY) for p in probs]
        confidence = probs[0]
        others = other_reasons(found, probs[0], probs[1] if len(probs) > 1 else 0.0, margin)
        reasons = [r for r in others if r == "unowned"]
        limit, source = self.threshold_with_source(names[0], found, threshold)
        meets = limit is not None and confidence >= limit
        if not meets:
            reasons.append("low_confidence")
        spans = "cross_squad" in others
        if spans:
            reasons.append("cross_squad")
        action = Decision.ESCALATE if reasons else Decision.ASSIGN
        assert self.operating is not None
        # One validation call per result (pydantic-core builds the nested models).
        return TriageResult.model_validate(
            {
                "squad": names[0],
                "confidence": confidence,
                "candidates": [
                    {"squad": s, "probability": p} for s, p in zip(names, probs, strict=True)
                ],
                "matched_components": [
                    {
                        "component": m.component,
                        "owner": m.owner,
                        "evidence": [*m.strong, *m.weak],
                        "named": bool(m.strong),
                    }
                    for m in found
                ],
                "spans_squads": spans,
                "decision": action,
                "reasons": reasons,
                "model_version": self.version,
                "recommendation": {
                    "squad": names[0],
                    "confidence": confidence,
                    "threshold": limit,
                    "threshold_source": source,
                    "target_precision": self.operating.target,
                    "meets_threshold": meets,
                    "action": action,
                    "reasons": list(reasons),
                },
            }
        )
