"""The trained model as others use it: `TriageModel.predict(cases, threshold=...)`.

Decision rules for one case (reasons are a subset of these, in this order):

* `unowned` — the case names (by name, title, alias or hint) a component with no owner.
  Unowned components never produce a squad label.
* `low_confidence` — the top squad's calibrated probability is below `threshold`.
* `cross_squad` — components of different squads are named (by name, title, alias or
  hint; keyword matches alone are too loose to call a case cross-squad), or the two most
  likely squads are less than `margin` apart.

`decision` is `assign` when there is no reason, else `escalate`.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from contracts.cases import Decision, TriageResult
from contracts.catalogue import Catalogue
from triage.classifier.features import CatalogueMatcher, Match
from triage.classifier.pipeline import Scorer

TOP_K = 3


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
        metrics: Held-out evaluation figures from training (empty for a cold start).
        trained_at: When it was trained (UTC).
    """

    version: str
    squads: list[str]
    metrics: dict[str, Any]
    trained_at: datetime
    scorer: Scorer
    catalogue: Catalogue
    info: dict[str, Any] = field(default_factory=dict)
    _matcher: CatalogueMatcher | None = field(default=None, repr=False)
    matcher: CatalogueMatcher = field(init=False, repr=False)
    """The catalogue matcher: the one given as `_matcher`, else built with the model."""

    def __post_init__(self) -> None:
        # At load, not on the first predict (which runs inside an intake transaction).
        self.matcher = self._matcher or CatalogueMatcher(self.catalogue)

    def match(self, cases: Sequence[CaseText]) -> list[list[Match]]:
        """Catalogue matches of each case."""
        find = self.matcher.find
        return [find(c.text, c.component) for c in cases]

    def predict_proba(self, cases: Sequence[CaseText]) -> np.ndarray:
        """Calibrated probabilities, columns in `squads` order."""
        return self.scorer.predict_proba([c.text for c in cases], self.match(cases))

    def predict(
        self, cases: Sequence[CaseText], *, threshold: float, margin: float = 0.1
    ) -> list[TriageResult]:
        """Predict the owning squad of each case with a decision at `threshold`.

        Args:
            cases: The cases to classify.
            threshold: Minimum calibrated probability to suggest `assign`.
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
        self, cases: Sequence[CaseText], threshold: float, margin: float
    ) -> list[TriageResult]:
        matches = self.match(cases)
        proba = self.scorer.predict_proba([c.text for c in cases], matches)
        k = min(TOP_K, len(self.squads))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        top_p = np.take_along_axis(proba, order, axis=1).tolist()
        squads = self.squads
        results = []
        for row, probs, found in zip(order.tolist(), top_p, matches, strict=True):
            results.append(self._result([squads[i] for i in row], probs, found, threshold, margin))
        return results

    def _result(
        self,
        names: list[str],
        probs: list[float],
        found: list[Match],
        threshold: float,
        margin: float,
    ) -> TriageResult:
        confidence = min(max(probs[0], 0.0), 1.0)
        reasons = []
        if any(m.owner is None and m.strong for m in found):
            reasons.append("unowned")
        if confidence < threshold:
            reasons.append("low_confidence")
        named_owners = {m.owner for m in found if m.strong and m.owner}
        close = len(probs) > 1 and probs[0] - probs[1] < margin
        spans = len(named_owners) > 1 or close
        if spans:
            reasons.append("cross_squad")
        # One validation call per result (pydantic-core builds the nested models).
        return TriageResult.model_validate(
            {
                "squad": names[0],
                "confidence": confidence,
                "candidates": [
                    {"squad": s, "probability": min(max(p, 0.0), 1.0)}
                    for s, p in zip(names, probs, strict=True)
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
                "decision": Decision.ESCALATE if reasons else Decision.ASSIGN,
                "reasons": reasons,
                "model_version": self.version,
            }
        )
