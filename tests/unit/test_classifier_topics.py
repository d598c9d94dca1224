"""Topic coordinates (LSA): what the model is served is what it was trained on."""

from __future__ import annotations

import numpy as np
import pytest

from triage.classifier.candidates import CANDIDATES, TOPIC_WEIGHT, Vectorised
from triage.classifier.topics import LsaTopics

TOPICS = next(c for c in CANDIDATES if c.topics)

TEXTS = [
    "printer out of toner on floor three",
    "printer jams every morning in the print room",
    "laptop battery drains fast after update",
    "laptop screen flickers after the driver update",
    "vpn drops when working from home",
    "vpn password expired cannot connect from home",
    "mailbox full cannot send email",
    "email signature missing in outlook",
] * 4


def _vectorised() -> Vectorised:
    squads = ["a", "b"]
    return Vectorised(TEXTS, [[]] * len(TEXTS), squads, 0.0, need_chars=True, seed=0)


def test_served_blocks_equal_the_training_matrix() -> None:
    v = _vectorised()
    trained = v.matrix(TOPICS).toarray()
    served = v.feature_set(TOPICS).transform(TEXTS, [[]] * len(TEXTS)).toarray()
    assert trained.shape == served.shape
    np.testing.assert_allclose(served, trained, atol=1e-5)


def test_topic_rows_are_unit_length_and_unknown_words_give_zeros() -> None:
    v = _vectorised()
    fs = v.feature_set(TOPICS)
    assert fs.topics is not None
    words = fs.words.transform([*TEXTS[:3], "zzz qqq"])
    z = fs.topics.transform(words)
    assert z.shape == (4, fs.topics.n_topics)
    np.testing.assert_allclose(np.linalg.norm(z[:3], axis=1), 1.0, rtol=1e-5)
    assert not z[3].any()


def test_topic_block_is_scaled_and_counted_in_the_width() -> None:
    fs = _vectorised().feature_set(TOPICS)
    assert fs.topics is not None
    blocks = fs.blocks(TEXTS[:2], [[], []])
    topic_block = blocks[2].toarray()
    np.testing.assert_allclose(np.linalg.norm(topic_block, axis=1), TOPIC_WEIGHT, rtol=1e-5)
    assert sum(b.shape[1] for b in blocks) == fs.n_features


def test_topics_are_made_of_the_allowed_columns_only() -> None:
    v = _vectorised()
    words = v.words["sublinear"].transform(TEXTS)
    allowed = np.array(sorted(v.words["sublinear"].unigrams.values()))
    topics = LsaTopics.fit(words, columns=allowed, n_topics=3)
    assert topics is not None
    rows_used = np.flatnonzero(np.diff(topics.projection.indptr))
    assert set(rows_used.tolist()) <= set(allowed.tolist())
    bigrams = set(v.words["sublinear"].bigrams.values())
    assert not bigrams & set(rows_used.tolist())


@pytest.mark.parametrize("texts", [["one"], ["a b", "a b"]])
def test_too_little_to_factorise_gives_no_topics(texts: list[str]) -> None:
    v = Vectorised(texts, [[]] * len(texts), ["a", "b"], 0.0, need_chars=False)
    assert LsaTopics.fit(v.words["tfidf"].transform(texts)) is None
