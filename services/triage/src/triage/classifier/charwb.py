"""Character n-grams inside words (scikit-learn's `char_wb`), computed once per word.

`char_wb` pads each whitespace-separated word of the lower-cased text with a space and
takes its n-grams; no n-gram crosses a word boundary. A text's n-gram counts are therefore
the sum of its words' n-gram counts: `X = D @ W`, where `D` counts the words of each text
and `W` holds the n-gram counts of each distinct word. `CharWbVectoriser` keeps `W` for
every word seen in training, so `transform` is one dict lookup per word and a sparse
product; only words never seen are cut into n-grams (once per batch). `fit` works the same
way (each distinct word is cut once), ~10x faster than `TfidfVectorizer(analyzer=
"char_wb")` on long texts. The matrix is the one that vectoriser computes with the same
`ngram_range`, `min_df`, `sublinear_tf`, smooth idf and l2 norm (tests compare them);
only the column order differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def word_ngrams(word: str, low: int, high: int) -> list[str]:
    """The `char_wb` n-grams of one (already lower-cased) word, as scikit-learn cuts them."""
    w = f" {word} "
    size = len(w)
    out = []
    for n in range(low, high + 1):
        if size <= n:  # a short word counts once, whole, and longer n-grams are skipped
            out.append(w)
            break
        out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def _word_counts(
    texts: Sequence[str], index: dict[str, int], *, grow: bool
) -> tuple[sp.csr_matrix, list[str]]:
    """`D` (texts x known words) and, unless `grow`, the distinct unknown words in order.

    With `grow`, unseen words are added to `index`; else they get columns after the known
    ones, numbered in order of first appearance (returned as the list).
    """
    unknown: dict[str, int] = {}
    known = len(index)
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    columns: list[int] = []
    get = index.get
    for i, text in enumerate(texts):
        words = text.lower().split()
        found = list(map(get, words))
        if None in found:  # the rare path: words not seen yet
            for j, word in enumerate(words):
                if found[j] is not None:
                    continue
                if grow:
                    col = index.get(word)
                    if col is None:
                        col = index[word] = len(index)
                else:
                    col = unknown.get(word)
                    if col is None:
                        col = unknown[word] = known + len(unknown)
                found[j] = col
        columns.extend(found)  # type: ignore[arg-type]
        indptr[i + 1] = len(columns)
    width = len(index) + len(unknown)
    d = sp.csr_matrix(
        (np.ones(len(columns), dtype=np.float64), np.asarray(columns, dtype=np.int64), indptr),
        shape=(len(texts), width),
    )
    d.sum_duplicates()
    return d, list(unknown)


def _ngram_matrix(
    words: Iterable[str], vocabulary: dict[str, int], n_features: int, low: int, high: int
) -> sp.csr_matrix:
    """Rows of n-gram counts (columns from `vocabulary`; others dropped) for `words`."""
    indptr = [0]
    columns: list[int] = []
    get = vocabulary.get
    for word in words:
        columns.extend(c for c in map(get, word_ngrams(word, low, high)) if c is not None)
        indptr.append(len(columns))
    m = sp.csr_matrix(
        (np.ones(len(columns)), np.asarray(columns, dtype=np.int64), np.asarray(indptr)),
        shape=(len(indptr) - 1, n_features),
    )
    m.sum_duplicates()
    return m


@dataclass
class CharWbVectoriser:
    """Fitted `char_wb` TF-IDF with a per-word n-gram table (see the module docstring).

    Attributes:
        ngram_range: Smallest and largest n.
        min_df: Minimum number of training texts an n-gram must appear in.
        sublinear: Counts become `1 + log(count)`.
        vocabulary: n-gram -> column.
        words: Word -> row of `table`.
        table: The n-gram counts of each known word, `(len(words), n_features)`.
        idf: Per-column idf (smooth, as scikit-learn's default).
    """

    ngram_range: tuple[int, int] = (3, 5)
    min_df: int = 2
    sublinear: bool = True
    vocabulary: dict[str, int] | None = None
    words: dict[str, int] | None = None
    table: sp.csr_matrix | None = None
    idf: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.vocabulary or {})

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Learn the vocabulary, idf and word table from `texts`; return their matrix."""
        low, high = self.ngram_range
        words: dict[str, int] = {}
        d, _ = _word_counts(texts, words, grow=True)
        grams: dict[str, int] = {}
        indptr = [0]
        columns: list[int] = []
        for word in words:  # insertion order = row order
            for gram in word_ngrams(word, low, high):
                col = grams.get(gram)
                if col is None:
                    col = grams[gram] = len(grams)
                columns.append(col)
            indptr.append(len(columns))
        table = sp.csr_matrix(
            (np.ones(len(columns)), np.asarray(columns, dtype=np.int64), np.asarray(indptr)),
            shape=(len(words), len(grams)),
        )
        table.sum_duplicates()
        counts = sp.csr_matrix(d @ table)
        df = np.bincount(counts.indices, minlength=len(grams))
        keep = np.flatnonzero(df >= self.min_df)
        names = list(grams)
        self.vocabulary = {names[c]: i for i, c in enumerate(keep.tolist())}
        self.table = sp.csr_matrix(table[:, keep])
        self.words = words
        n = len(texts)
        self.idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
        return self._weigh(sp.csr_matrix(counts[:, keep]))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The l2-normalised TF-IDF rows of `texts`, shape `(len(texts), n_features)`."""
        # a sparse product has no duplicate entries (its columns are merely unsorted,
        # which the weighting and the model's product do not need)
        return self._weigh(self.transform_counts(texts), canonical=False)

    def transform_counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The raw n-gram counts of `texts` (float64 CSR; columns within a row unsorted)."""
        if self.words is None or self.table is None or self.vocabulary is None:
            raise ValueError("CharWbVectoriser is not fitted")
        d, unknown = _word_counts(texts, self.words, grow=False)
        known = len(self.words)
        if unknown:
            low, high = self.ngram_range
            extra = _ngram_matrix(unknown, self.vocabulary, self.n_features, low, high)
            counts = d[:, :known] @ self.table + d[:, known:] @ extra
        else:
            counts = d @ self.table
        return sp.csr_matrix(counts)

    def _weigh(self, x: sp.csr_matrix, *, canonical: bool = True) -> sp.csr_matrix:
        if canonical:
            x.sum_duplicates()
            x.eliminate_zeros()
        if self.sublinear:
            np.log(x.data, out=x.data)
            x.data += 1.0
        assert self.idf is not None
        x.data *= self.idf[x.indices]
        data = l2_normalise_rows(x.data, x.indptr).astype(np.float32)
        # built from the parts: `astype` would sort every row's columns first
        return sp.csr_matrix((data, x.indices, x.indptr), shape=x.shape)


def l2_normalise_rows(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """`data` (CSR values, rows delimited by `indptr`) divided by each row's l2 norm, in place.

    Rows with no entries stay empty; the norm of a row is summed in column order of its
    entries, as `np.bincount` over row numbers sums it.
    """
    sizes = np.diff(indptr)
    filled = np.flatnonzero(sizes)
    if len(filled):
        sums = np.add.reduceat(data * data, indptr[filled])
        data /= np.repeat(np.sqrt(sums), sizes[filled])
    return data
