"""Thresholds for a target precision from out-of-fold predictions, and the rare-squad rule."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.catalogue import Catalogue
from triage.classifier import CaseText, train_model
from triage.classifier.thresholds import derive, lowest_threshold, wilson_lower

from .conftest import make_history


def _draw(rng: np.random.Generator, n: int, squads: int, power: list[float]) -> tuple:
    """Predictions right with probability `confidence ** power` (power per squad)."""
    predicted = rng.integers(0, squads, n)
    confidence = rng.uniform(0.3, 1.0, n)
    correct = rng.random(n) < confidence ** np.asarray(power)[predicted]
    return predicted, confidence, correct


def test_thresholds_hold_their_precision_on_unseen_cases() -> None:
    squads, power = ["honest", "overconfident", "small"], [1.0, 2.0, 1.0]
    support = {"honest": 1500, "overconfident": 1500, "small": 40}
    realised: list[float] = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        predicted, confidence, correct = _draw(rng, 3000, 2, power)
        predicted[:20] = 2  # 20 out-of-fold cases: too few for a threshold of its own
        op = derive(squads, support, predicted, confidence, correct, np.ones(3000, bool))
        assert op.target == 0.9
        assert op.squads["honest"].source == op.squads["overconfident"].source == "own"
        assert op.squads["small"].source == "global"
        assert op.precision is not None and op.precision >= 0.9 and 0 < op.coverage < 1
        honest, overconfident = op.squads["honest"], op.squads["overconfident"]
        assert honest.threshold is not None and overconfident.threshold is not None
        assert overconfident.threshold > honest.threshold
        # fresh cases from the same process: what the thresholds assign is right as promised
        new_pred, new_conf, new_correct = _draw(rng, 40_000, 2, power)
        for i, point in enumerate((honest, overconfident)):
            chosen = (new_pred == i) & (new_conf >= point.threshold)  # type: ignore[operator]
            assert chosen.sum() / (new_pred == i).sum() > 0.05  # it does assign
            realised.append(float(new_correct[chosen].mean()))
    # an 80% lower bound: above the target on average, most runs at or above it, none
    # far below it (the plain observed share, z = 0, fails this)
    assert np.mean(realised) >= 0.905 and min(realised) >= 0.865
    assert np.mean(np.array(realised) >= 0.9) >= 0.6


def test_no_threshold_when_the_target_is_out_of_reach() -> None:
    confidence = np.linspace(0.3, 1.0, 200)
    correct = np.arange(200) % 2 == 0  # half right at every confidence
    assert lowest_threshold(confidence, correct, 0.9) is None
    op = derive(["a", "b"], {"a": 100, "b": 100}, np.zeros(200, int), confidence, correct,
                np.ones(200, bool))  # fmt: skip
    assert op.squads["a"].threshold is None and op.coverage == 0.0
    assert any("no confidence reaches" in n for n in op.notes)


def test_the_bound_asks_more_of_few_cases() -> None:
    assert wilson_lower(np.array([9]), np.array([10]))[0] < 0.9 < 9 / 10 + 1e-9
    assert wilson_lower(np.array([950]), np.array([1000]))[0] > 0.93
    # ties are assigned together: a threshold never splits equal confidences
    conf = np.array([0.9, 0.9, 0.9, 0.5])
    assert lowest_threshold(conf, np.array([True, True, False, True]), 0.95) is None


def test_ineligible_cases_are_never_counted_as_assigned() -> None:
    confidence = np.full(100, 0.99)
    correct = np.ones(100, bool)
    eligible = np.arange(100) < 60
    op = derive(["a", "b"], {"a": 80, "b": 20}, np.zeros(100, int), confidence, correct, eligible)
    assert op.coverage == pytest.approx(0.6)


def test_rare_squads_are_assigned_only_when_a_case_names_them(
    small_catalogue: Catalogue,
) -> None:
    common = [c for c in make_history(600, seed=4) if c.squad != "delivery"]
    rare = [c for c in make_history(600, seed=5) if c.squad == "delivery"][:4]
    model, report = train_model([*common, *rare], small_catalogue, seed=0, min_examples=5)
    op = model.operating
    assert op is not None and op.rare == ["delivery"] and op.min_examples == 5
    assert op.squads["delivery"].threshold is None and op.squads["delivery"].support == 4
    assert any("delivery" in note and "never assigned" in note for note in report.notes)
    unnamed, named = model.predict(
        [
            CaseText("", "the truck never arrived, driver could not find the address"),
            CaseText("Slot booker", "the slot booker shows no delivery slot"),
        ]
    )
    assert unnamed.squad == named.squad == "delivery"
    assert unnamed.decision == "escalate" and unnamed.reasons == ["low_confidence"]
    assert named.decision == "assign"
    # an explicit threshold does not lift the rule
    [again] = model.predict([CaseText("", "the truck never arrived")], threshold=0.0, margin=0.0)
    assert again.squad == "delivery" and again.decision == "escalate"


def test_cold_start_assigns_only_named_components(cold_model) -> None:
    op = cold_model.operating
    assert op is not None and set(op.rare) == set(cold_model.squads)
    named, unnamed = cold_model.predict(
        [CaseText("", "payment gateway error"), CaseText("", "money problems")]
    )
    assert named.squad == "payments" and named.decision == "assign"
    assert unnamed.decision == "escalate" and "low_confidence" in unnamed.reasons


def test_target_changes_the_thresholds(trained) -> None:
    model, _ = trained
    strict = model.operating_point(0.99)
    loose = model.operating_point(0.6)
    for squad in model.squads:
        a, b = loose.squads[squad].threshold, strict.squads[squad].threshold
        assert a is not None and (b is None or b >= a)
