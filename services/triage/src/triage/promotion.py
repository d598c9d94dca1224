"""Champion and challenger: the time-ordered holdout, the scores on it and the promotion rule.

A retrain never swaps a model in on trust. The most recent labelled cases (by label time)
are held out; the challenger is trained on the older ones; both the champion (the model in
force) and the challenger predict the held-out cases, and the challenger is promoted only
when it is not worse than the champion by more than `margin` on each of:

- accuracy (the predicted squad is the labelled one);
- macro-F1 over the squads seen in the holdout (labelled or predicted);
- precision of the cases each model would assign automatically at its target precision
  (`decision == assign`): the challenger's must reach `min(target, champion's) - margin`,
  so a champion above target only asks the challenger to meet the target, and one below it
  asks the challenger not to be worse. A model that assigns nothing on the holdout cannot
  be wrong there; its precision is None and passes this check.

Fewer held-out cases than `min_holdout` prove nothing: the challenger is rejected with that
reason (an operator may still promote it by hand). The champion may have been trained on
part of the holdout (it was refit on every label when it was promoted): that favours the
champion, so the rule errs on the side of keeping it.

Everything here is pure; `training.retrain` feeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ASSIGN = "assign"


@dataclass(frozen=True, slots=True)
class PromotionRule:
    """How a challenger is judged.

    Attributes:
        margin: How much worse than the champion a challenger may be on each figure.
        target_precision: The target precision of automatic assignments.
        min_holdout: The fewest held-out cases a comparison needs.
    """

    margin: float = 0.01
    target_precision: float = 0.9
    min_holdout: int = 30


@dataclass(frozen=True, slots=True)
class HoldoutScore:
    """One model's figures on the held-out cases.

    Attributes:
        n: Held-out cases.
        accuracy: Share whose predicted squad is the labelled one.
        macro_f1: Unweighted mean of the per-squad F1 scores.
        assigned: Cases the model would assign automatically.
        assign_precision: Share of those assigned to the labelled squad (None: none assigned).
    """

    n: int
    accuracy: float
    macro_f1: float
    assigned: int
    assign_precision: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain figures, for storing and showing."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on a challenger and why."""

    promote: bool
    reasons: list[str] = field(default_factory=list)


def score(
    truth: Sequence[str], predicted: Sequence[str | None], decisions: Sequence[str]
) -> HoldoutScore:
    """Score predictions (squad or None, and the decision) against the labelled squads."""
    n = len(truth)
    if not n:
        return HoldoutScore(0, 0.0, 0.0, 0, None)
    right = [p == t for t, p in zip(truth, predicted, strict=True)]
    squads = set(truth) | {p for p in predicted if p is not None}
    f1s = []
    for s in squads:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == s and p == s)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != s and p == s)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == s and p != s)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    assigned = [ok for ok, d in zip(right, decisions, strict=True) if d == ASSIGN]
    return HoldoutScore(
        n=n,
        accuracy=round(sum(right) / n, 4),
        macro_f1=round(sum(f1s) / len(f1s), 4),
        assigned=len(assigned),
        assign_precision=round(sum(assigned) / len(assigned), 4) if assigned else None,
    )


def judge(champion: HoldoutScore, challenger: HoldoutScore, rule: PromotionRule) -> Verdict:
    """Promote the challenger only if it is not worse than the champion (module docstring)."""
    if challenger.n < rule.min_holdout:
        return Verdict(
            False,
            [f"only {challenger.n} held-out labelled cases; a comparison needs {rule.min_holdout}"],
        )
    reasons = []
    for name in ("accuracy", "macro_f1"):
        mine, theirs = getattr(challenger, name), getattr(champion, name)
        if mine < theirs - rule.margin:
            reasons.append(f"{name} {mine:.4f} < champion {theirs:.4f} - margin {rule.margin}")
    if challenger.assign_precision is not None:
        bar = rule.target_precision
        if champion.assign_precision is not None:
            bar = min(bar, champion.assign_precision)
        if challenger.assign_precision < bar - rule.margin:
            reasons.append(
                f"assign precision {challenger.assign_precision:.4f} < "
                f"{bar:.4f} - margin {rule.margin}"
            )
    return Verdict(not reasons, reasons)
