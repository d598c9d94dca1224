"""Choosing a configuration per history: the baseline unless a candidate beats it."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from contracts.catalogue import Catalogue, Squad
from triage.classifier import CaseText, LabelledCase, train_model
from triage.classifier import selection as selection_module
from triage.classifier.candidates import BASELINE
from triage.classifier.selection import (
    ABSENT_SCORE,
    MAX_LOSS,
    MIN_GAIN,
    CandidateScore,
    assign_folds,
    case_budget,
    choose,
    cross_validate,
    linear_weights,
    problems,
    subsample,
)
from triage.classifier.train import final_rows


def _scores(*rows: tuple[str, float, float]) -> list[CandidateScore]:
    return [CandidateScore(name, acc, f1, 1.0) for name, acc, f1 in rows]


def test_the_baseline_wins_unless_beaten() -> None:
    tie = _scores(("baseline", 0.8, 0.6), ("word-soft", 0.8, 0.6 + MIN_GAIN))
    assert choose(tie).name == "baseline"  # +MIN_GAIN/2 on the mean: noise
    worse = _scores(("baseline", 0.8, 0.6), ("word-soft", 0.79, 0.55))
    assert choose(worse).name == "baseline"
    lopsided = _scores(("baseline", 0.8, 0.4), ("word-soft", 0.8 - 2 * MAX_LOSS, 0.5))
    assert choose(lopsided).name == "baseline"  # better mean, but loses accuracy


def test_the_best_clear_winner_is_chosen() -> None:
    scores = _scores(
        ("baseline", 0.70, 0.35), ("word-soft", 0.71, 0.40), ("word-char-soft", 0.72, 0.42)
    )
    assert choose(scores).name == "word-char-soft"


def test_folds_are_stratified_even_for_tiny_squads() -> None:
    labels = ["a"] * 30 + ["b"] * 7 + ["c"] * 2 + ["d"]
    folds = assign_folds(labels, 3, seed=0)
    y = np.array(labels)
    for squad in "ab":
        counts = np.bincount(folds[y == squad], minlength=3)
        assert counts.max() - counts.min() <= 1
    assert len(set(folds[y == "c"].tolist())) == 2


def test_subsample_keeps_every_squad() -> None:
    labels = ["big"] * 5000 + ["small"] * 12 + ["tiny"] * 3
    rows = subsample(labels, 1000, seed=0)
    kept = [labels[i] for i in rows]
    assert kept.count("small") == 10 and kept.count("tiny") == 3
    assert 900 <= len(kept) <= 1100
    assert len(subsample(labels[:50], 1000, seed=0)) == 50


def test_case_budget_counts_entries_times_squads_not_cases() -> None:
    assert case_budget(50_000, 3_000_000 * 66, 800_000_000) == 50_000  # short texts: all
    assert case_budget(50_000, 22_000_000 * 8, 800_000_000) == 50_000  # few squads: all
    assert case_budget(50_000, 22_000_000 * 68, 800_000_000) == 26_737  # both: a share
    assert case_budget(50_000, 10**6, 10**9, 8000) == 8000  # the case cap still holds
    assert case_budget(10, 10**9, 1) == 1


def test_problems_is_one_per_squad_and_one_for_two() -> None:
    assert problems(["a", "b", "a"]) == 1
    assert problems(["a", "b", "c"]) == 3


def test_final_fit_is_capped_by_work_and_keeps_small_squads_and_pseudo_documents() -> None:
    labels = ["big"] * 900 + ["small"] * 12 + ["tiny"] * 3
    n_history = len(labels)
    y = np.array([*labels, "big", "small", "tiny"])  # then three pseudo documents
    x = sp.csr_matrix(np.ones((len(y), 5)))  # 5 entries per row, 3 squads
    assert len(final_rows(x, y, n_history, 0, max_work=5 * 3 * n_history)) == len(y)
    rows = final_rows(x, y, n_history, 0, max_work=5 * 3 * 300)
    kept = y[rows].tolist()
    # each squad keeps min(count, 10) history cases, plus its pseudo document
    assert kept.count("small") == 11 and kept.count("tiny") == 4
    assert 290 <= len(rows) <= 330
    assert rows[-3:].tolist() == [n_history, n_history + 1, n_history + 2]
    assert len(set(rows.tolist())) == len(rows)


def test_a_large_history_is_refitted_on_a_capped_stratified_share(monkeypatch) -> None:
    history = _inflected_history(600, seed=3)
    monkeypatch.setattr(selection_module, "MAX_SELECTION_CASES", 200)
    monkeypatch.setattr("triage.classifier.train.MAX_FINAL_WORK", 40_000)
    model, _ = train_model(history, _label_catalogue([e.squad for e in history]), seed=0)
    assert model.info["selection"]["cases"] < 300
    final = model.info["final_model"]
    assert final.startswith("refitted on ") and final.endswith(" of 600 history cases (stratified)")
    kept = int(final.split()[2])
    assert 100 < kept < 500
    [res] = model.predict([CaseText("", "please invoicxyz help")])
    assert res.squad == "billing"


def _label_catalogue(labels: list[str]) -> Catalogue:
    squads = {s: Squad(name=s, title=s) for s in sorted(set(labels))}
    squads["sd"] = Squad(name="sd", title="Service Delivery", service_delivery=True)
    return Catalogue(squads=squads, components={}, digest="t", source="t")


def _inflected_history(n: int, seed: int) -> list[LabelledCase]:
    """Squads told apart by word stems that never repeat as whole words (typos, endings)."""
    rng = random.Random(seed)
    stems = {"billing": "invoic", "network": "router", "identity": "passw", "storage": "backu"}
    filler = ["please", "help", "issue", "today", "user", "cannot", "again", "error"]
    out = []
    for _ in range(n):
        squad = rng.choice(sorted(stems))
        ending = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=4))
        words = [*rng.sample(filler, 3), stems[squad] + ending]
        rng.shuffle(words)
        out.append(LabelledCase("", " ".join(words), squad))
    return out


def test_train_picks_character_ngrams_when_words_do_not_repeat() -> None:
    history = _inflected_history(400, seed=1)
    model, report = train_model(history, _label_catalogue([e.squad for e in history]), seed=0)
    selection = model.info["selection"]
    scores = {c["name"]: c for c in selection["candidates"]}
    assert selection["chosen"].startswith("word-char")
    assert scores["baseline"]["accuracy"] < 0.5 < scores[selection["chosen"]]["accuracy"]
    assert report.accuracy == pytest.approx(scores[selection["chosen"]]["accuracy"], abs=1e-3)


def test_train_keeps_the_baseline_when_every_candidate_is_as_good(trained) -> None:
    model, _ = trained
    selection = model.info["selection"]
    assert all(c["accuracy"] == 1.0 for c in selection["candidates"])
    assert selection["chosen"] == "baseline" and model.scorer.kind == "baseline"


def test_a_squad_with_one_case_is_still_predicted_for_its_own_text() -> None:
    history = _inflected_history(300, seed=2)
    history.append(LabelledCase("", "quarterly zyxwvut ledger reconciliation", "finance"))
    model, _ = train_model(history, _label_catalogue([e.squad for e in history]), seed=0)
    assert "finance" in model.squads
    assert model.operating is not None and "finance" in model.operating.rare
    [res] = model.predict([CaseText("", "quarterly zyxwvut ledger reconciliation")])
    assert res.squad == "finance" and res.decision == "escalate"


def test_dropping_empty_columns_leaves_out_of_fold_scores_unchanged() -> None:
    # a subsample is cross-validated on the columns it uses only (`select`)
    rng = np.random.default_rng(0)
    dense = rng.random((90, 40)) * (rng.random((90, 40)) < 0.2)
    dense[:, 25:] = 0.0  # columns only the rest of a history would use
    x = sp.csr_matrix(dense)
    y = np.array(["a", "b", "c"] * 30)
    extra_x, extra_y = x[:3], y[:3]
    folds = assign_folds(y.tolist(), 3, seed=0)
    squads = ["a", "b", "c"]
    full, _, _ = cross_validate(BASELINE, x, y, extra_x, extra_y, folds, squads, 0)
    used = np.union1d(x.indices, extra_x.indices)
    assert len(used) < x.shape[1]
    narrow, _, _ = cross_validate(
        BASELINE, x[:, used], y, extra_x[:, used], extra_y, folds, squads, 0
    )
    np.testing.assert_allclose(narrow, full, atol=1e-6)


def test_linear_weights_put_each_squad_in_its_column() -> None:
    x = sp.csr_matrix(np.eye(3))
    clf = LinearSVC().fit(x, ["c", "a", "b"])
    weights, bias = linear_weights(clf, ["a", "b", "c", "d"])
    assert weights.shape == (3, 4) and weights.flags.c_contiguous
    assert np.argmax(weights[:, :3], axis=1).tolist() == [2, 0, 1]
    assert not weights[:, 3].any() and bias[3] == ABSENT_SCORE
