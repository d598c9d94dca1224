"""The vectorised serving paths compute what the per-token paths they replaced computed.

`CompiledWordVectoriser.counts` looks bigrams up as sorted numbers, and the char_wb
weighting normalises rows without sorting them; the references below are the earlier
implementations, kept here verbatim in substance, and the predictions of a trained model
are compared through both (scores within 1e-6, the same top squad).
"""

from __future__ import annotations

import random
from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.classifier.candidates import CANDIDATES, TOPIC_WEIGHT, Vectorised
from triage.classifier.charwb import CharWbVectoriser, l2_normalise_rows
from triage.classifier.features import VECTORISER_TOKEN_PATTERN, Match, squad_features
from triage.classifier.pipeline import Scorer
from triage.classifier.vectorise import CompiledWordVectoriser

WORDS = ["checkout", "payment", "refund", "vpn", "login", "printer", "jam", "über", "straße"]
WORDS += ["api", "500", "x", "of", "the", "db"]


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.3:
            words.append(f"unseen{rng.randint(0, 99)}")
        out.append(" ".join(words) + rng.choice(["", ".", " — Checkout-API!", "\tjam_jam"]))
    return out


def _reference_counts(v: CompiledWordVectoriser, texts: list[str]) -> sp.csr_matrix:
    """The earlier path: a dict lookup per token and per token pair."""
    rows, cols = [], []
    for i, text in enumerate(texts):
        toks = v.pattern.findall(text.lower())
        found = [v.unigrams.get(t) for t in toks] + [v.bigrams.get(p) for p in pairwise(toks)]
        kept = [c for c in found if c is not None]
        rows.extend([i] * len(kept))
        cols.extend(kept)
    x = sp.csr_matrix(
        (np.ones(len(cols)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(len(texts), v.n_features),
    )
    x.sum_duplicates()
    return x


def _reference_char_weigh(v: CharWbVectoriser, counts: sp.csr_matrix) -> sp.csr_matrix:
    """The earlier weighting: norms by `np.bincount` over row numbers, then `astype`."""
    x = counts.copy()
    np.log(x.data, out=x.data)
    x.data += 1.0
    assert v.idf is not None
    x.data *= v.idf[x.indices]
    n = x.shape[0]
    rows = np.repeat(np.arange(n), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(rows, weights=x.data * x.data, minlength=n))
    x.data /= norms[rows]
    return x.astype(np.float32)


def test_word_counts_equal_the_per_token_lookups() -> None:
    fitted, counts = CompiledWordVectoriser.fit(_texts(300, 0), VECTORISER_TOKEN_PATTERN)
    assert (counts != _reference_counts(fitted, _texts(300, 0))).nnz == 0
    new = [*_texts(200, 1), "", "x", "checkout", "checkout payment", "", "payment checkout"]
    actual = fitted.counts(new)
    expected = _reference_counts(fitted, new)
    assert actual.has_canonical_format
    assert actual.shape == expected.shape and (actual != expected).nnz == 0


def test_pruned_vocabularies_keep_their_bigrams() -> None:
    # a given vocabulary can hold a bigram without its words: the bigram still counts
    vocabulary = ["checkout payment", "payment refund", "refund", "jam jam", "printer", "api"]
    sk = TfidfVectorizer(
        ngram_range=(1, 2), token_pattern=VECTORISER_TOKEN_PATTERN, vocabulary=vocabulary
    ).fit(_texts(300, 2))
    compiled = CompiledWordVectoriser.from_sklearn(sk)
    assert any(t not in compiled.unigrams for pair in compiled.bigrams for t in pair)
    new = _texts(100, 3)
    expected = _reference_counts(compiled, new)
    assert (compiled.counts(new) != expected).nnz == 0
    np.testing.assert_allclose(
        compiled.transform(new).toarray(), sk.transform(new).toarray(), atol=1e-6
    )


def test_no_text_and_no_bigram_vocabulary() -> None:
    fitted, _ = CompiledWordVectoriser.fit(["one", "two"], VECTORISER_TOKEN_PATTERN)
    assert not fitted.bigrams
    texts = ["one two two", ""]
    assert (fitted.counts(texts) != _reference_counts(fitted, texts)).nnz == 0
    assert fitted.counts([]).shape == (0, fitted.n_features)


def test_char_weighting_equals_the_sorted_one() -> None:
    v = CharWbVectoriser()
    v.fit_transform(_texts(300, 4))
    new = [*_texts(100, 5), ""]
    actual = v.transform(new)
    counts = sp.csr_matrix(v.transform_counts(new))
    expected = _reference_char_weigh(v, counts)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual.toarray(), expected.toarray(), rtol=0, atol=1e-6)


def test_l2_rows_handle_empty_rows() -> None:
    data = np.array([3.0, 4.0, 2.0])
    indptr = np.array([0, 0, 2, 2, 3, 3])
    np.testing.assert_allclose(l2_normalise_rows(data, indptr), [0.6, 0.8, 1.0])
    assert len(l2_normalise_rows(np.zeros(0), np.zeros(3, dtype=np.int64))) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_equal_the_reference_path(seed: int) -> None:
    rng = random.Random(seed)
    squads = ["alpha", "beta", "gamma"]
    train = _texts(200, seed)
    train_matches: list[list[Match]] = [[] for _ in train]
    vectorised = Vectorised(train, train_matches, squads, 0.25, need_chars=True, seed=seed)
    chosen = next(c for c in CANDIDATES if c.char and c.topics)
    features = vectorised.feature_set(chosen)
    assert features.chars is not None and features.topics is not None
    weights = np.asarray(
        [[rng.uniform(-1, 1) for _ in squads] for _ in range(features.n_features)],
        dtype=np.float32,
    )
    scorer = Scorer(squads, features, weights, np.array([0.1, 0.0, -0.1]), 0.5, "test")
    texts = [*_texts(150, seed + 10), "alpha beta", ""]
    matches: list[list[Match]] = [[] for _ in texts]

    words = features.words.weigh(_reference_counts(features.words, texts))
    chars = _reference_char_weigh(features.chars, features.chars.transform_counts(texts))
    topics = sp.csr_matrix(features.topics.transform(words) * TOPIC_WEIGHT)
    catalogue = squad_features(matches, squads) * features.catalogue_weight
    x = sp.hstack([words, chars, topics, catalogue], format="csr", dtype=np.float32)
    expected = np.asarray(x @ weights) + scorer.intercepts

    actual = scorer.scores(texts, matches)
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)  # float32 sums
    assert (actual.argmax(axis=1) == expected.argmax(axis=1)).all()
