"""The compiled word vectoriser gives scikit-learn's TF-IDF matrix."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.classifier.features import VECTORISER_TOKEN_PATTERN
from triage.classifier.vectorise import CompiledWordVectoriser

TRAIN = [
    "Checkout API returns 500 on payment",
    "payment refund stuck; checkout_api timeout",
    "VPN login fails after password reset",
    "Passwort zurücksetzen für Zugang, Überweisung fehlt",
    "printer printer printer jam on floor 3",
    "x",
]
NEW = [
    "checkout api payment payment refund",
    "unknown words only here",
    "",
    "Überweisung FEHLT — Checkout-API 500 payment",
    "printer jam printer jam",
    "a b c d",
]


@pytest.mark.parametrize("sublinear", [True, False])
@pytest.mark.parametrize("use_idf", [True, False])
def test_compiled_matches_sklearn(use_idf: bool, sublinear: bool) -> None:
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        token_pattern=VECTORISER_TOKEN_PATTERN,
        use_idf=use_idf,
        sublinear_tf=sublinear,
        dtype=np.float32,
    ).fit(TRAIN)
    compiled = CompiledWordVectoriser.from_sklearn(vectorizer)
    expected = vectorizer.transform(NEW)
    actual = compiled.transform(NEW)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    assert actual.nnz == expected.nnz
    np.testing.assert_allclose(actual.toarray(), expected.toarray(), atol=1e-6)
    assert compiled.transform([]).shape == (0, len(vectorizer.vocabulary_))


def test_unsupported_options_are_refused() -> None:
    vectorizer = TfidfVectorizer(ngram_range=(1, 3)).fit(TRAIN)
    with pytest.raises(ValueError, match="1-2-gram"):
        CompiledWordVectoriser.from_sklearn(vectorizer)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), binary=True).fit(TRAIN)
    with pytest.raises(ValueError, match="1-2-gram"):
        CompiledWordVectoriser.from_sklearn(vectorizer)


@pytest.mark.parametrize(("idf", "sublinear"), [(True, False), (True, True), (False, False)])
def test_fit_learns_what_sklearn_learns(idf: bool, sublinear: bool) -> None:
    sk = TfidfVectorizer(
        ngram_range=(1, 2),
        token_pattern=VECTORISER_TOKEN_PATTERN,
        use_idf=idf,
        sublinear_tf=sublinear,
        dtype=np.float32,
    )
    expected = sk.fit_transform(TRAIN)
    fitted, counts = CompiledWordVectoriser.fit(TRAIN, VECTORISER_TOKEN_PATTERN)
    ours = fitted.variant(idf=idf, sublinear=sublinear)
    names = {
        **{u: c for u, c in ours.unigrams.items()},
        **{" ".join(b): c for b, c in ours.bigrams.items()},
    }
    assert set(names) == set(sk.vocabulary_)
    order = np.empty(ours.n_features, dtype=np.int64)
    for term, column in names.items():
        order[column] = sk.vocabulary_[term]
    np.testing.assert_allclose(
        ours.weigh(counts).toarray(), expected[:, order].toarray(), atol=1e-6
    )
    np.testing.assert_allclose(
        ours.transform(NEW).toarray(), sk.transform(NEW)[:, order].toarray(), atol=1e-6
    )
