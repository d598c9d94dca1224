"""Topic features: read the unigram TF-IDF off the word matrix, separate planted topics."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.classifier.features import VECTORISER_TOKEN_PATTERN
from triage.classifier.topics import TopicFeatures
from triage.classifier.vectorise import CompiledWordVectoriser

GROUPS = [
    ["printer", "toner", "paper", "jam", "tray"],
    ["password", "reset", "login", "account", "locked"],
    ["invoice", "purchase", "order", "supplier", "quote"],
]


def _texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(GROUPS), n).tolist()
    texts = [" ".join(rng.choice(GROUPS[g], 6)) for g in labels]
    return texts, labels


@pytest.mark.parametrize("use_idf", [True, False])
def test_terms_are_the_unigram_tfidf(use_idf: bool) -> None:
    texts, _ = _texts(200, 0)
    words = TfidfVectorizer(
        ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN, use_idf=use_idf
    ).fit(texts)
    topics = TopicFeatures.fit(texts, words, n_topics=3, max_terms=10)
    assert topics is not None
    unigrams = TfidfVectorizer(token_pattern=VECTORISER_TOKEN_PATTERN, max_features=10)
    expected = unigrams.fit(texts).transform(texts[:20]).toarray()
    compiled = CompiledWordVectoriser.from_sklearn(words)
    actual = topics.terms(compiled.transform(texts[:20])).toarray()
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_topics_separate_planted_groups() -> None:
    texts, _ = _texts(300, 1)
    words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN).fit(texts)
    topics = TopicFeatures.fit(texts, words, n_topics=3, max_terms=50)
    assert topics is not None and topics.n_topics == 3
    new, truth = _texts(60, 2)
    w = topics.transform(CompiledWordVectoriser.from_sklearn(words).transform([*new, "", "zzz"]))
    assert w.shape == (62, 3)
    np.testing.assert_allclose(np.linalg.norm(w[:60], axis=1), 1.0)
    assert not w[60:].any()  # no known terms: no topic
    strongest = w[:60].argmax(axis=1)
    # each planted group maps to one topic, and no two groups share it
    mapping = {
        g: {int(t) for t, y in zip(strongest, truth, strict=True) if y == g} for g in (0, 1, 2)
    }
    assert all(len(m) == 1 for m in mapping.values())
    assert len(set().union(*mapping.values())) == 3


def test_too_few_terms_gives_no_topics() -> None:
    texts = ["printer jam", "password reset"] * 20
    words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN).fit(texts)
    assert TopicFeatures.fit(texts, words, n_topics=30) is None


def test_a_saved_model_keeps_only_the_fitted_fields_and_transforms_the_same() -> None:
    texts, _ = _texts(200, 3)
    words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN).fit(texts)
    topics = TopicFeatures.fit(texts, words, n_topics=3, max_terms=20)
    assert topics is not None
    x = CompiledWordVectoriser.from_sklearn(words).transform(texts[:10])
    before = topics.transform(x)  # fills the cached transpose
    assert "components_t" in vars(topics)
    loaded = pickle.loads(pickle.dumps(topics))
    assert "components_t" not in vars(loaded)
    np.testing.assert_array_equal(loaded.transform(x), before)
    np.testing.assert_array_equal(loaded.components_t, loaded.components.T)
