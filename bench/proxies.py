"""Harder stand-ins for a real assignment history, built from data this machine has.

Real ITSM histories have dozens of assignment groups, one or two holding half the cases,
many holding a handful, short noisy texts and some wrong labels. The public IT-tickets set
(8 balanced labels, long texts) has none of that, so each proxy here reshapes it, and one
generator makes a many-class history from scratch:

* `zipf` - the 8 public labels, class sizes Zipf-like (the largest ~half), 4,000 cases,
  5% of labels replaced by another label (injected noise).
* `titles` - like `zipf` but only the first 4-10 words of each ticket (short texts).
* `subgroups` - many classes derived from the public labels: a ticket's class is its label
  plus the first of that label's 8 most characteristic words it contains (or `other`),
  which makes ~70 groups of very different sizes, as real queues split by product; Zipf
  subsampled to 5,000 cases, texts cut to 6-20 words, 8% label noise.
* `desk` - like `subgroups`, but a third of the derived groups (drawn by the seed) are one
  broad first-line group holding ~45% of 6,000 cases, as a service desk does; the other
  groups Zipf-sized, texts cut to 6-20 words, 5% label noise.
* `long` - 30,000 full-length tickets drawn at random from the public set relabelled into
  its ~70 subgroups (as `subgroups`, but neither subsampled by size nor cut), 3% label
  noise: a history large enough to be cross-validated on a subsample and refitted on more
  cases, the case where out-of-fold figures from the folds' size could favour a candidate
  that grows slower. Slow (~100 CPU s per seed): run only when named (`PROXIES=long`).
* `synthetic` - `synthetic_history`: 60 groups with Zipf sizes, each case with 1-3 of its
  group's terms (some shared with a sibling group) among shared filler words, typos, a
  share of cases in a second "language" (words rewritten by a fixed cipher), 3,000 cases,
  5% label noise.

Every proxy is a function of a seed (class ranks, sampling, noise all follow it), so the
benchmark reports several seeds; none of them is tuned for: they are the problems, not
the answers.
"""

from __future__ import annotations

import csv
import gzip
import random
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from triage.classifier import LabelledCase


def read_public(path: Path) -> list[LabelledCase]:
    """The public IT-tickets set (columns `Document`, `Topic_group`)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [LabelledCase("", r["Document"], r["Topic_group"]) for r in csv.DictReader(handle)]


def zipf_sizes(n_classes: int, total: int, *, exponent: float = 1.1) -> list[int]:
    """Class sizes summing to about `total`, the i-th proportional to `1 / (i+1)^exponent`."""
    weights = [1.0 / (i + 1) ** exponent for i in range(n_classes)]
    scale = total / sum(weights)
    return [max(1, round(w * scale)) for w in weights]


def zipf_subsample(
    examples: Sequence[LabelledCase], total: int, rng: random.Random, *, exponent: float = 1.1
) -> list[LabelledCase]:
    """A subsample whose classes (in a seeded random rank order) follow `zipf_sizes`."""
    by_class: dict[str, list[LabelledCase]] = defaultdict(list)
    for e in examples:
        by_class[e.squad].append(e)
    names = sorted(by_class)
    rng.shuffle(names)
    out: list[LabelledCase] = []
    for name, size in zip(names, zipf_sizes(len(names), total, exponent=exponent), strict=True):
        pool = by_class[name]
        out.extend(rng.sample(pool, min(size, len(pool))))
    rng.shuffle(out)
    return out


def add_label_noise(
    examples: Sequence[LabelledCase], share: float, rng: random.Random
) -> list[LabelledCase]:
    """Replace the label of `share` of the cases by another label drawn by label frequency."""
    labels = [e.squad for e in examples]
    out = []
    for e in examples:
        if rng.random() < share:
            other = rng.choice(labels)
            out.append(LabelledCase(e.title, e.description, other))
        else:
            out.append(e)
    return out


def truncate(examples: Sequence[LabelledCase], rng: random.Random, low: int, high: int) -> list:
    """Keep only the first `low..high` words of each case (short texts)."""
    return [
        LabelledCase("", " ".join(e.text.split()[: rng.randint(low, high)]), e.squad)
        for e in examples
    ]


def subgroups(examples: Sequence[LabelledCase], *, per_label: int = 8) -> list[LabelledCase]:
    """Split each label by its `per_label` most characteristic words (see the docstring)."""
    overall: Counter[str] = Counter()
    within: dict[str, Counter[str]] = defaultdict(Counter)
    for e in examples:
        words = set(e.text.lower().split())
        overall.update(words)
        within[e.squad].update(words)
    anchors: dict[str, list[str]] = {}
    for label, counts in within.items():
        ranked = sorted(
            (w for w, c in counts.items() if c >= 40 and len(w) > 3),
            key=lambda w: -(counts[w] / overall[w]) * counts[w] ** 0.5,
        )
        anchors[label] = ranked[:per_label]
    out = []
    for e in examples:
        words = set(e.text.lower().split())
        sub = next((a for a in anchors[e.squad] if a in words), "other")
        out.append(LabelledCase(e.title, e.description, f"{e.squad}/{sub}"))
    return out


def first_line(
    examples: Sequence[LabelledCase], total: int, rng: random.Random, *, share: float = 0.45
) -> list[LabelledCase]:
    """A third of the classes merged into one broad group of `share` of `total` cases; the
    other classes Zipf-sized in the rest."""
    by_class: dict[str, list[LabelledCase]] = defaultdict(list)
    for e in examples:
        by_class[e.squad].append(e)
    names = sorted(by_class)
    rng.shuffle(names)
    merged, rest = names[: len(names) // 3], names[len(names) // 3 :]
    pool = [e for n in merged for e in by_class[n]]
    out = [
        LabelledCase(e.title, e.description, "first-line")
        for e in rng.sample(pool, min(len(pool), round(total * share)))
    ]
    sizes = zipf_sizes(len(rest), round(total * (1 - share)))
    for name, size in zip(rest, sizes, strict=True):
        out.extend(rng.sample(by_class[name], min(size, len(by_class[name]))))
    rng.shuffle(out)
    return out


_FILLER = [
    "please",
    "help",
    "issue",
    "problem",
    "user",
    "cannot",
    "since",
    "today",
    "again",
    "urgent",
    "thanks",
    "hi",
    "team",
    "error",
    "request",
    "access",
    "working",
    "not",
    "still",
    "after",
    "update",
    "when",
    "we",
    "our",
    "the",
    "system",
    "new",
]
_STEMS_RNG = random.Random(20261129)
_STEMS = sorted(
    {"".join(_STEMS_RNG.choices(string.ascii_lowercase, k=5 + i % 4)) for i in range(400)}
)


def synthetic_history(
    seed: int, *, n: int = 3000, n_groups: int = 60, noise: float = 0.05
) -> list[LabelledCase]:
    """A made-up many-class history (see the module docstring); the same for the same seed."""
    rng = random.Random(seed)
    if n_groups > 75:
        raise ValueError("at most 75 groups (4 own terms each from 300)")
    terms: list[list[str]] = []
    vocabulary, background = rng.sample(_STEMS[:300], 300), _STEMS[300:]
    for g in range(n_groups):
        own = vocabulary[4 * g : 4 * g + 4]
        if g and rng.random() < 0.6:  # share some terms with an earlier (sibling) group
            own += rng.sample(terms[rng.randrange(g)], 2)
        terms.append(own)
    cipher = str.maketrans(string.ascii_lowercase, "".join(rng.sample(string.ascii_lowercase, 26)))
    sizes = zipf_sizes(n_groups, n)
    out = []
    for g, size in enumerate(sizes):
        for _ in range(size):
            words = rng.choices(terms[g], k=rng.randint(1, 3)) + rng.choices(
                _FILLER + background, k=rng.randint(3, 12)
            )
            rng.shuffle(words)
            words = [_typo(w, rng) if rng.random() < 0.08 else w for w in words]
            text = " ".join(words)
            if rng.random() < 0.15:
                text = text.translate(cipher)
            out.append(LabelledCase("", text, f"group-{g:02d}"))
    rng.shuffle(out)
    return add_label_noise(out, noise, rng)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


Proxy = Callable[[int], list[LabelledCase]]
#: Proxies run only when named (minutes per seed).
SLOW = frozenset({"long"})


def proxies(public: Sequence[LabelledCase] | None) -> dict[str, Proxy]:
    """The proxies available here, by name; the public ones only when its rows are given."""
    found: dict[str, Proxy] = {}
    if public is not None:
        split = subgroups(public)

        def zipf(seed: int) -> list[LabelledCase]:
            rng = random.Random(seed)
            return add_label_noise(zipf_subsample(public, 4000, rng), 0.05, rng)

        def titles(seed: int) -> list[LabelledCase]:
            rng = random.Random(seed)
            return add_label_noise(
                truncate(zipf_subsample(public, 4000, rng), rng, 4, 10), 0.05, rng
            )

        def many(seed: int) -> list[LabelledCase]:
            rng = random.Random(seed)
            cut = truncate(zipf_subsample(split, 5000, rng, exponent=1.2), rng, 6, 20)
            return add_label_noise(cut, 0.08, rng)

        def desk(seed: int) -> list[LabelledCase]:
            rng = random.Random(seed)
            return add_label_noise(truncate(first_line(split, 6000, rng), rng, 6, 20), 0.05, rng)

        def long(seed: int) -> list[LabelledCase]:
            rng = random.Random(seed)
            return add_label_noise(rng.sample(split, 30000), 0.03, rng)

        found |= {"zipf": zipf, "titles": titles, "subgroups": many, "desk": desk, "long": long}
    found["synthetic"] = synthetic_history
    return found
