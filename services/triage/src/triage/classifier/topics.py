"""Topic features: a case's coordinates on the main word topics of the training texts (LSA).

A truncated SVD of the word block (`candidates.FeatureSet.words`), restricted to its
`MAX_TERMS` most frequent single words (bigrams made the topics 0.2 pt worse on the public
set), finds `N_TOPICS` directions along which the training
texts' words co-occur. A case's coordinates on them, l2-normalised, are a short dense
summary of what it is about, which lets a linear model use evidence spread over many
related words that each occur too rarely to earn a weight of their own.

They help where squads differ by subject matter more than by a few telling words (on the
public IT-tickets set, +0.5-0.8 pt accuracy; on the proxies with dozens of squads
defined by product words, neutral), so they are a candidate of their own, chosen by
cross-validation (`selection`), never a fixed part of the model.

Fitting costs one randomised SVD of at most `MAX_ROWS` texts; serving costs one sparse
product with a `(n_word_features, N_TOPICS)` matrix that is zero outside the chosen
n-grams' rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

N_TOPICS = 50
MAX_TERMS = 5000
MAX_ROWS = 10000


@dataclass
class LsaTopics:
    """Fitted topics over the columns of a word block.

    Attributes:
        projection: `(n_word_features, n_topics)`; row `j` holds word column `j`'s loadings
            (zero for columns outside the `MAX_TERMS` most frequent).
    """

    projection: sp.csr_matrix

    @property
    def n_topics(self) -> int:
        """Number of output columns."""
        return int(self.projection.shape[1])

    @classmethod
    def fit(
        cls,
        words: sp.csr_matrix,
        *,
        columns: np.ndarray | None = None,
        n_topics: int = N_TOPICS,
        max_terms: int = MAX_TERMS,
        max_rows: int = MAX_ROWS,
        seed: int = 0,
    ) -> LsaTopics | None:
        """Fit on the word block of the training texts; None when it is too small.

        Args:
            words: The word block of the training texts, `(n_texts, n_word_features)`.
            columns: The word columns topics may be made of (default: all).
            n_topics: Topics to keep.
            max_terms: Most frequent word columns the topics are made of.
            max_rows: Texts the SVD sees at most (an even sample of the rows).
            seed: Seed of the randomised SVD and the sample.
        """
        df = np.bincount(words.indices, minlength=words.shape[1])
        if columns is not None:
            allowed = np.zeros(words.shape[1], dtype=bool)
            allowed[columns] = True
            df[~allowed] = 0
        terms = np.sort(np.argsort(-df, kind="stable")[:max_terms])
        terms = terms[df[terms] > 0]
        n_topics = min(n_topics, len(terms) - 1, words.shape[0] - 1)
        if n_topics < 2:
            return None
        rows = np.arange(words.shape[0])
        if len(rows) > max_rows:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
        svd = TruncatedSVD(n_components=n_topics, random_state=seed)
        svd.fit(words[rows][:, terms])
        loadings = np.asarray(svd.components_.T, dtype=np.float32)  # (len(terms), n_topics)
        projection = sp.csr_matrix(
            (
                loadings.ravel(),
                np.tile(np.arange(n_topics), len(terms)),
                _indptr(words.shape[1], terms, n_topics),
            ),
            shape=(words.shape[1], n_topics),
        )
        return cls(projection)

    def transform(self, words: sp.csr_matrix) -> np.ndarray:
        """l2-normalised topic coordinates of the texts whose word block is `words`."""
        z = np.asarray((words @ self.projection).toarray(), dtype=np.float32)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)


def _indptr(n_rows: int, terms: np.ndarray, width: int) -> np.ndarray:
    """CSR row pointers of a matrix whose rows `terms` (sorted) hold `width` entries each."""
    counts = np.zeros(n_rows + 1, dtype=np.int64)
    counts[terms + 1] = width
    return np.cumsum(counts)
