"""Text features: the catalogue matcher, per-squad match features and pseudo-documents.

The matcher finds component names, titles, aliases and keywords in case text. Both sides
are normalised the same way (lower case; hyphens, underscores, slashes and punctuation become
word breaks), so `Checkout-API`, `checkout_api` and `checkout api` all match `checkout-api`.
Names, titles and aliases are *strong* evidence, keywords *weak* evidence; the submission's
optional `component` hint counts as strong evidence for the component it names. Where terms
overlap, the longest wins: "payment gateway" is one match, and the alias "gateway" of another
component inside it is not matched again.

Unowned components are reported as matches (triage escalates them) but never feed a squad
feature or a training label.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from contracts.cases import MatchedComponent
from contracts.catalogue import Catalogue

_TOKEN = re.compile(r"[^\W_]+")
#: Token pattern for the TF-IDF vectoriser: 2+ letters/digits, underscores break words.
VECTORISER_TOKEN_PATTERN = r"(?u)[^\W_]{2,}"
STRONG, WEAK = 2, 1
HINT_EVIDENCE = "component hint"


_ASCII_BREAKS = str.maketrans(dict.fromkeys(string.punctuation, " "))


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; hyphens, underscores and punctuation split words."""
    if text.isascii():  # same tokens as the regex, ~2x faster
        return text.lower().translate(_ASCII_BREAKS).split()
    return _TOKEN.findall(text.lower())


def normalise(text: str) -> str:
    """The matcher's normal form of a term: its tokens joined by single spaces."""
    return " ".join(tokens(text))


@dataclass(slots=True)
class Match:
    """A component found in one text, with the normalised terms that found it."""

    component: str
    owner: str | None
    strong: list[str] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        """Strength of the evidence: STRONG per name/alias/hint, WEAK per keyword."""
        return STRONG * len(self.strong) + WEAK * len(self.weak)

    def to_contract(self) -> MatchedComponent:
        """As the shared `MatchedComponent` model."""
        return MatchedComponent(
            component=self.component,
            owner=self.owner,
            evidence=[*self.strong, *self.weak],
            named=bool(self.strong),
        )


class CatalogueMatcher:
    """Finds catalogue components in free text (see the module docstring)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._owner = {c.name: c.owner for c in catalogue.components.values()}
        # term tokens -> [(component, strength)]
        terms: dict[tuple[str, ...], dict[str, int]] = {}
        self._names: dict[str, str] = {}
        for comp in catalogue.components.values():
            strong = [comp.name, comp.title, *comp.aliases]
            for term, strength in [
                *((t, STRONG) for t in strong),
                *((k, WEAK) for k in comp.keywords),
            ]:
                key = tuple(tokens(term))
                if not key:
                    continue
                slot = terms.setdefault(key, {})
                slot[comp.name] = max(slot.get(comp.name, 0), strength)
                if strength == STRONG:
                    self._names.setdefault(" ".join(key), comp.name)
        self._by_first: dict[str, list[tuple[tuple[str, ...], dict[str, int]]]] = {}
        for key, comps in terms.items():
            self._by_first.setdefault(key[0], []).append((key, comps))
        for entries in self._by_first.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._first = frozenset(self._by_first)

    def resolve(self, hint: str | None) -> str | None:
        """The component a reporter's hint names (by name, title or alias), if any."""
        if not hint:
            return None
        return self._names.get(normalise(hint))

    def find(self, text: str, hint: str | None = None) -> list[Match]:
        """Components found in `text` (plus the hinted one), strongest evidence first."""
        found: dict[str, Match] = {}
        hinted = self.resolve(hint)
        if hinted is not None:
            found[hinted] = Match(hinted, self._owner[hinted], strong=[HINT_EVIDENCE])
        toks = tokens(text)
        if self._first.isdisjoint(toks):
            return list(found.values())
        n = len(toks)
        covered = 0  # the longest term wins: no term is matched inside an earlier match
        for i, tok in enumerate(toks):
            if i < covered:
                continue
            entries = self._by_first.get(tok)
            if entries is None:
                continue
            for key, comps in entries:  # longest first
                size = len(key)
                if size > 1 and (i + size > n or tuple(toks[i : i + size]) != key):
                    continue
                covered = i + size
                term = " ".join(key)
                for name, strength in comps.items():
                    m = found.get(name)
                    if m is None:
                        m = found[name] = Match(name, self._owner[name])
                    bucket = m.strong if strength == STRONG else m.weak
                    if term not in bucket:
                        bucket.append(term)
                break
        return sorted(found.values(), key=lambda m: (-m.score, m.component))


def squad_features(
    matches_per_doc: Sequence[Sequence[Match]], squads: Sequence[str]
) -> sp.csr_matrix:
    """Per-squad evidence counts: columns `[strong(s) for s in squads] + [weak(s) ...]`.

    Values are `log1p(count)` so one mention matters and ten do not matter ten times more.
    """
    index = {s: i for i, s in enumerate(squads)}
    width = len(squads)
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for r, matches in enumerate(matches_per_doc):
        found: dict[int, int] = {}
        for m in matches:
            i = index.get(m.owner) if m.owner else None
            if i is None:
                continue
            if m.strong:
                found[i] = found.get(i, 0) + len(m.strong)
            if m.weak:
                found[width + i] = found.get(width + i, 0) + len(m.weak)
        for col, count in found.items():
            rows.append(r)
            cols.append(col)
            counts.append(count)
    values = np.log1p(np.asarray(counts, dtype=np.float64))
    return sp.csr_matrix((values, (rows, cols)), shape=(len(matches_per_doc), 2 * width))


def pseudo_documents(catalogue: Catalogue) -> list[tuple[str, str]]:
    """Labelled `(text, squad)` documents synthesised from the catalogue alone.

    For every owned component: its full card (title, description, tags, aliases,
    keywords), its description, and one short document per name, alias and keyword.
    Each squad's own description is labelled with that squad. Unowned components and
    Service Delivery give nothing.
    """
    docs: list[tuple[str, str]] = []
    for comp in sorted(catalogue.components.values(), key=lambda c: c.name):
        if not comp.owner:
            continue
        card = " ".join(
            [comp.name, comp.title, comp.description, *comp.tags, *comp.aliases, *comp.keywords]
        )
        docs.append((card, comp.owner))
        if comp.description:
            docs.append((f"{comp.title} {comp.description}", comp.owner))
        for term in _unique([comp.name, comp.title, *comp.aliases, *comp.keywords]):
            docs.append((term, comp.owner))
    owners = {c.owner for c in catalogue.components.values() if c.owner}
    for squad in sorted(owners):
        info = catalogue.squads.get(squad)
        if info is not None and info.description:
            docs.append((f"{info.title} {info.description}", squad))
    return docs


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
