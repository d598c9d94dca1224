"""The per-word char_wb vectoriser gives scikit-learn's TF-IDF matrix (column order aside)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.classifier.charwb import CharWbVectoriser, word_ngrams

TRAIN = [
    "Checkout API returns 500 on payment",
    "payment refund stuck;  checkout_api\ttimeout",
    "VPN login fails after password reset a",
    "Passwort zurücksetzen für Zugang, Überweisung fehlt",
    "printer printer printer jam on floor 3",
    "x",
    "",
    "ab ab abc",
]
NEW = [
    "checkout api payment payment refund",
    "entirely unseen wordings zzqx",
    "",
    "Überweisung FEHLT — Checkout-API 500 payment",
    "a b c d printer",
]


@pytest.mark.parametrize(("ngrams", "min_df", "sublinear"), [((3, 5), 2, True), ((2, 4), 1, False)])
def test_matches_sklearn(ngrams: tuple[int, int], min_df: int, sublinear: bool) -> None:
    sk = TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngrams, min_df=min_df, sublinear_tf=sublinear
    )
    expected_fit = sk.fit_transform(TRAIN)
    ours = CharWbVectoriser(ngram_range=ngrams, min_df=min_df, sublinear=sublinear)
    fitted = ours.fit_transform(TRAIN)
    assert ours.vocabulary is not None and set(ours.vocabulary) == set(sk.vocabulary_)
    order = [sk.vocabulary_[g] for g in ours.vocabulary]  # our column i is their column order[i]
    np.testing.assert_allclose(fitted.toarray(), expected_fit[:, order].toarray(), atol=1e-6)
    np.testing.assert_allclose(
        ours.transform(NEW).toarray(), sk.transform(NEW)[:, order].toarray(), atol=1e-6
    )
    assert ours.transform([]).shape == (0, ours.n_features)


def test_short_words_count_once_as_sklearn_cuts_them() -> None:
    assert word_ngrams("a", 3, 5) == [" a "]
    assert word_ngrams("abc", 3, 5) == [" ab", "abc", "bc ", " abc", "abc ", " abc "]


def test_transform_before_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        CharWbVectoriser().transform(["x"])
