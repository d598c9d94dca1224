"""The realised precision watch, pure: window, figures, target and verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.domain.policy import PrecisionWatch
from router.domain.watch import DEFAULT_TARGET, Watched, assess, window_start

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _window(right: int, corrected: int, target: float | None = 0.9) -> list[Watched]:
    return [Watched(True, target)] * corrected + [Watched(False, target)] * right


def test_realised_precision_is_the_share_not_corrected() -> None:
    figures = assess(_window(right=7, corrected=3), PrecisionWatch(min_cases=10, margin=0.05))
    assert (figures.auto_assigned, figures.corrected) == (10, 3)
    assert figures.realised_precision == pytest.approx(0.7)
    assert figures.target_precision == 0.9 and figures.floor == pytest.approx(0.85)
    assert figures.judged and figures.below
    assert "realised precision 0.70 (3 of 10" in figures.describe()


@pytest.mark.parametrize(
    ("right", "corrected", "below"),
    [
        (9, 1, False),  # 0.90: on target
        (17, 3, False),  # 0.85: at the floor, not below it
        (16, 4, True),  # 0.80
        (0, 5, False),  # every one corrected, but too few to judge
    ],
)
def test_verdict_needs_enough_cases_below_target_minus_margin(
    right: int, corrected: int, below: bool
) -> None:
    rules = PrecisionWatch(min_cases=10, margin=0.05)
    assert assess(_window(right, corrected), rules).below is below


def test_target_comes_from_the_policy_else_the_models_recommendations() -> None:
    window = [Watched(False, 0.8), Watched(True, 0.95), Watched(False, None)]
    assert assess(window, PrecisionWatch()).target_precision == 0.8  # the newest that says
    assert assess(window, PrecisionWatch(target_precision=0.7)).target_precision == 0.7
    unknown = [Watched(False, None)]
    assert assess(unknown, PrecisionWatch()).target_precision == DEFAULT_TARGET
    empty = assess([], PrecisionWatch())
    assert empty.realised_precision is None and not empty.below
    assert empty.describe() == "no automatic assignments in the window"


def test_the_window_starts_at_the_later_of_its_days_and_the_last_restore() -> None:
    rules = PrecisionWatch(window_days=7)
    assert window_start(rules, NOW, None) == NOW - timedelta(days=7)
    restored = NOW - timedelta(days=2)
    assert window_start(rules, NOW, restored) == restored
    assert window_start(rules, NOW, NOW - timedelta(days=30)) == NOW - timedelta(days=7)
