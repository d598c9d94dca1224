"""The promotion rule: holdout scores and the verdict on a challenger (pure)."""

from __future__ import annotations

import pytest

from triage.promotion import HoldoutScore, PromotionRule, judge, score

RULE = PromotionRule(margin=0.01, target_precision=0.9, min_holdout=30)


def s(acc: float, f1: float, prec: float | None, n: int = 100) -> HoldoutScore:
    return HoldoutScore(n, acc, f1, 0 if prec is None else 50, prec)


def test_score_counts_accuracy_macro_f1_and_assign_precision() -> None:
    truth = ["a", "a", "b", "b"]
    got = score(truth, ["a", "b", "b", None], ["assign", "assign", "escalate", "assign"])
    assert got.n == 4 and got.accuracy == 0.5
    # a: tp1 fn1 -> 2/3; b: tp1 fp1 fn1 -> 1/2
    assert got.macro_f1 == round((2 / 3 + 1 / 2) / 2, 4)
    assert got.assigned == 3 and got.assign_precision == round(1 / 3, 4)
    assert score([], [], []).assign_precision is None


def test_an_equal_or_better_challenger_is_promoted() -> None:
    assert judge(s(0.9, 0.8, 0.95), s(0.9, 0.8, 0.95), RULE).promote
    assert judge(s(0.9, 0.8, 0.95), s(0.895, 0.795, 0.945), RULE).promote  # within the margin


@pytest.mark.parametrize(
    ("challenger", "figure"),
    [
        (s(0.88, 0.8, 0.95), "accuracy"),
        (s(0.9, 0.78, 0.95), "macro_f1"),
        (s(0.9, 0.8, 0.85), "assign precision"),
    ],
)
def test_worse_by_more_than_the_margin_on_any_figure_is_rejected(challenger, figure) -> None:
    verdict = judge(s(0.9, 0.8, 0.95), challenger, RULE)
    assert not verdict.promote
    assert len(verdict.reasons) == 1 and verdict.reasons[0].startswith(figure)


def test_assign_precision_is_held_to_the_target_or_the_champion_whichever_is_lower() -> None:
    # champion above target: the challenger only needs the target (minus the margin)
    assert judge(s(0.9, 0.8, 0.99), s(0.9, 0.8, 0.895), RULE).promote
    assert not judge(s(0.9, 0.8, 0.99), s(0.9, 0.8, 0.885), RULE).promote
    # champion below target: the challenger must not be worse than the champion
    assert judge(s(0.9, 0.8, 0.80), s(0.9, 0.8, 0.795), RULE).promote
    assert not judge(s(0.9, 0.8, 0.80), s(0.9, 0.8, 0.78), RULE).promote
    # assigning nothing cannot be wrong; a champion assigning nothing sets the target as bar
    assert judge(s(0.9, 0.8, 0.95), s(0.9, 0.8, None), RULE).promote
    assert not judge(s(0.9, 0.8, None), s(0.9, 0.8, 0.8), RULE).promote


def test_too_small_a_holdout_proves_nothing() -> None:
    verdict = judge(s(0.5, 0.5, 0.5, n=29), s(1.0, 1.0, 1.0, n=29), RULE)
    assert not verdict.promote and "29" in verdict.reasons[0]
