"""Training, prediction, decisions and calibration on small synthetic history."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contracts import TriageResult
from contracts.catalogue import Catalogue
from triage.classifier import (
    CaseText,
    EvaluationReport,
    LabelledCase,
    TrainingError,
    TriageModel,
    evaluate_model,
    train_model,
)
from triage.classifier.evaluate import coverage_at_precision, evaluate_scores

History = Callable[..., list[LabelledCase]]
Trained = tuple[TriageModel, object]


def test_trained_model_predicts_held_out_cases(trained: Trained, history: History) -> None:
    model, report = trained
    assert isinstance(report, EvaluationReport)
    assert report.n == 300  # every history case, scored out of fold
    assert report.accuracy is not None and report.accuracy > 0.9
    assert model.metrics["accuracy"] == report.accuracy
    fresh = history(60, seed=99)
    again = evaluate_model(model, fresh, threshold=0.5)
    assert again.accuracy is not None and again.accuracy > 0.9
    assert again.top3_accuracy == 1.0


def test_result_fields(trained: Trained) -> None:
    model, _ = trained
    [res] = model.predict([CaseText("Card declined", "my card was declined twice")], threshold=0.5)
    assert res.squad == "payments"
    assert res.model_version == model.version
    assert res.candidates[0].squad == "payments"
    assert len(res.candidates) == 3
    probs = [c.probability for c in res.candidates]
    assert probs == sorted(probs, reverse=True)
    assert res.confidence == probs[0]
    assert res.decision == "assign" and res.reasons == [] and not res.spans_squads
    # results are valid contract models (they round-trip through validation unchanged)
    assert TriageResult.model_validate_json(res.model_dump_json()) == res


def test_probabilities_sum_to_one(trained: Trained, history: History) -> None:
    model, _ = trained
    cases = [CaseText(c.title, c.description) for c in history(40, seed=5)]
    cases.append(CaseText("", "completely unrelated words about weather"))
    proba = model.predict_proba(cases)
    assert proba.shape == (41, len(model.squads))
    assert (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_threshold_turns_assign_into_low_confidence(trained: Trained) -> None:
    model, _ = trained
    case = CaseText("", "my card was declined twice")
    [res] = model.predict([case], threshold=1.0)
    assert res.decision == "escalate"
    assert "low_confidence" in res.reasons


def test_two_named_owners_span_squads(trained: Trained) -> None:
    model, _ = trained
    case = CaseText("", "the payment gateway and the slot booker both fail")
    [res] = model.predict([case], threshold=0.0, margin=0.0)
    assert res.spans_squads
    assert "cross_squad" in res.reasons
    assert {m.owner for m in res.matched_components} == {"payments", "delivery"}


def test_close_candidates_span_squads(trained: Trained) -> None:
    model, _ = trained
    [res] = model.predict([CaseText("", "hello")], threshold=0.0, margin=1.0)
    assert res.spans_squads and res.reasons == ["cross_squad"]


def test_empty_input_gives_no_results(trained: Trained) -> None:
    assert trained[0].predict([], threshold=0.5) == []


def test_predict_leaves_the_garbage_collector_as_it_was(trained: Trained) -> None:
    import gc

    case = [CaseText("", "refund")]
    assert gc.isenabled()
    trained[0].predict(case, threshold=0.5)
    assert gc.isenabled()
    gc.disable()
    try:
        trained[0].predict(case, threshold=0.5)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_unknown_squads_are_skipped_and_noted(small_catalogue: Catalogue, history: History) -> None:
    history = history(60) + [LabelledCase("x", "y", "marketing")] * 3
    model, report = train_model(history, small_catalogue)
    assert "marketing" not in model.squads
    assert any("marketing (3)" in note for note in report.notes)


def test_service_delivery_is_never_a_label(small_catalogue: Catalogue, history: History) -> None:
    history = history(60) + [LabelledCase("x", "escalated", "service-delivery")] * 5
    model, _ = train_model(history, small_catalogue)
    assert "service-delivery" not in model.squads


def test_nothing_to_learn_is_an_error(small_catalogue: Catalogue) -> None:
    only_one = Catalogue(
        squads=small_catalogue.squads,
        components={
            k: v for k, v in small_catalogue.components.items() if v.owner in (None, "delivery")
        },
        digest="x",
    )
    with pytest.raises(TrainingError) as info:
        train_model([], only_one)
    assert info.value.code == "training_invalid"


def test_coverage_at_precision() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])
    # running precision: 1, 1, 2/3, 3/4, 3/5 -> only the first two keep >= 90%
    assert coverage_at_precision(confidence, correct) == pytest.approx(0.4)
    assert coverage_at_precision(confidence, correct, 0.7) == pytest.approx(0.8)
    assert coverage_at_precision(np.array([]), np.array([], dtype=bool)) == 0.0


def test_evaluate_scores_counts() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    report = evaluate_scores(["a", "b", "b"], ["a", "b", "c"], proba, threshold=0.55)
    assert report.accuracy == pytest.approx(1 / 3)
    assert report.top3_accuracy == 1.0
    assert report.coverage == pytest.approx(2 / 3)
    assert report.precision == pytest.approx(0.5)
    assert report.confusion[1] == [1, 0, 1]


def test_result_carries_the_models_recommendation(trained: Trained) -> None:
    model, _ = trained
    case = CaseText("Card declined", "my card was declined twice")
    [own] = model.predict([case])
    rec = own.recommendation
    assert rec is not None and model.operating is not None
    assert rec.squad == own.squad and rec.confidence == own.confidence
    assert rec.threshold == model.threshold_for("payments", model.match([case])[0])
    assert rec.target_precision == model.operating.target
    assert rec.threshold_source in ("own", "global")
    assert rec.meets_threshold is (rec.threshold is not None and own.confidence >= rec.threshold)
    # the deprecated fields repeat the recommendation for older readers
    assert (own.decision, own.reasons) == (rec.action, rec.reasons)

    [explicit] = model.predict([case], threshold=1.0)
    rec = explicit.recommendation
    assert rec is not None
    assert (rec.threshold, rec.threshold_source) == (1.0, "explicit")
    assert not rec.meets_threshold and rec.action == "escalate"
    assert rec.reasons == ["low_confidence"] == explicit.reasons


def test_a_result_without_recommendation_reads_one_from_the_old_fields(trained: Trained) -> None:
    model, _ = trained
    [res] = model.predict([CaseText("Card declined", "card declined")], threshold=1.0)
    legacy = res.model_copy(update={"recommendation": None})
    rec = legacy.recommended()
    assert (rec.squad, rec.confidence, rec.action) == (res.squad, res.confidence, res.decision)
    assert rec.threshold is None and rec.threshold_source == "unknown"
    assert rec.meets_threshold is False and rec.reasons == res.reasons
