"""Assignment thresholds derived from out-of-fold predictions for a target precision.

Given the calibrated out-of-fold predictions of the training history (each case's top
squad, its confidence, whether it was right, and whether another rule would escalate it
anyway), `derive` finds, for a target precision `p*` (default 0.90, `TARGET_PRECISION`):

* a **per-squad** threshold for every squad with at least `MIN_OWN_CASES` eligible
  out-of-fold cases predicted as it: the lowest confidence `t` such that those cases
  predicted at `>= t` have a precision whose one-sided lower confidence bound (Wilson
  score, `Z`) is at least `p*`. The bound, not the observed share, must reach the target,
  so a threshold resting on few cases is set higher and the precision holds on unseen
  cases;
* a **global** threshold, the same computed on the pooled cases of all the other
  (smaller, non-rare) squads, which use it; when they pool fewer than `MIN_OWN_CASES`,
  on the cases of every non-rare squad;
* **rare squads** (fewer than `min_examples` history cases, default `MIN_EXAMPLES`) get
  no threshold: the model never assigns them from history alone. They stay predictable
  (the catalogue's pseudo documents and names feed the model), and a case that *names*
  one of their components is assigned at the global threshold (`model`).

When nothing reaches the target, a threshold is `None` (never assign). The expected
precision and coverage reported per squad and overall are those of the out-of-fold cases
under these thresholds: estimates from the training history, not guarantees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

DEFAULT_TARGET = 0.90
MIN_EXAMPLES = 10
MIN_OWN_CASES = 30
#: One-sided 80% Wilson lower bound. On the proxies of `bench/proxies.py` (five proxies,
#: three seeds) it realised 0.897-0.923 precision on average for a 0.90 target (never
#: below 0.878 in a run) and assigned 3-12 pt more cases than the 90% bound (z = 1.28,
#: 0.881-0.925), which gave up coverage for precision nobody asked for; no bound at all
#: (the observed share) realised 0.877 on the many-squad proxy: the lowest threshold whose
#: observed precision reaches the target is chosen partly for luck.
Z = 0.8416


def wilson_lower(correct: np.ndarray, n: np.ndarray, z: float | None = None) -> np.ndarray:
    """Lower bound of the Wilson score interval of `correct / n` (elementwise; `z`: `Z`)."""
    z = Z if z is None else z
    n = np.asarray(n, dtype=np.float64)
    p = np.asarray(correct, dtype=np.float64) / np.maximum(n, 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.where(n > 0, (centre - spread) / (1 + z2 / n), 0.0)


def lowest_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """The lowest confidence whose cases at or above it meet `target` (lower bound)."""
    if len(confidence) == 0:
        return None
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order])
    n = np.arange(1, len(conf) + 1)
    # a prefix must end where the confidence changes: ties are assigned together
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    ok = ends[wilson_lower(hits[ends], n[ends]) >= target]
    return float(conf[ok.max()]) if len(ok) else None


@dataclass
class SquadPoint:
    """The operating point of one squad."""

    threshold: float | None
    source: str  # "own" | "global" | "rare"
    support: int  # history cases of the squad
    predicted: int  # out-of-fold cases predicted as the squad
    assigned: int  # ... of which assigned under the threshold
    precision: float | None  # ... of which right
    coverage: float  # assigned / predicted


@dataclass
class OperatingPoint:
    """Thresholds for one target precision, with what they are expected to do."""

    target: float
    min_examples: int
    global_threshold: float | None
    squads: dict[str, SquadPoint]
    precision: float | None  # overall, out-of-fold
    coverage: float  # share of out-of-fold cases assigned
    n: int  # out-of-fold cases
    notes: list[str] = field(default_factory=list)

    def threshold(self, squad: str) -> float | None:
        """The threshold of `squad` (None: never from history alone)."""
        point = self.squads.get(squad)
        return self.global_threshold if point is None else point.threshold

    @property
    def rare(self) -> list[str]:
        """Squads too rare to assign from history alone, sorted."""
        return sorted(s for s, p in self.squads.items() if p.source == "rare")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (manifest, API)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatingPoint:
        """Inverse of `as_dict`."""
        squads = {k: SquadPoint(**v) for k, v in data["squads"].items()}
        return cls(**{**data, "squads": squads})


def derive(
    squads: Sequence[str],
    support: dict[str, int],
    predicted: np.ndarray,
    confidence: np.ndarray,
    correct: np.ndarray,
    eligible: np.ndarray,
    *,
    target: float = DEFAULT_TARGET,
    min_examples: int = MIN_EXAMPLES,
) -> OperatingPoint:
    """Thresholds meeting `target` on out-of-fold predictions (see the module docstring).

    Args:
        squads: Every squad the model predicts.
        support: History cases per squad.
        predicted: Index (into `squads`) of each out-of-fold case's top squad.
        confidence: Its calibrated probability.
        correct: Whether the top squad was the true one.
        eligible: Whether no other rule (cross-squad margin, unowned, several named
            owners) would escalate the case anyway; only these can be assigned.
        target: Target precision of the assigned cases.
        min_examples: History cases a squad needs to be assigned from history alone.
    """
    rare = {s for s in squads if support.get(s, 0) < min_examples}
    counts = np.bincount(predicted[eligible], minlength=len(squads)) if len(predicted) else None
    own = {
        s for i, s in enumerate(squads) if s not in rare and counts is not None
        and counts[i] >= MIN_OWN_CASES
    }  # fmt: skip
    kind = np.array([0 if s in rare else 2 if s in own else 1 for s in squads], dtype=np.int8)
    pooled = eligible & (kind[predicted] == 1) if len(predicted) else eligible
    if pooled.sum() < MIN_OWN_CASES:
        pooled = eligible & (kind[predicted] > 0) if len(predicted) else eligible
    glob = lowest_threshold(confidence[pooled], correct[pooled], target)
    points: dict[str, SquadPoint] = {}
    assigned = np.zeros(len(predicted), dtype=bool)
    for i, squad in enumerate(squads):
        mine = predicted == i
        if squad in rare:
            threshold, source = None, "rare"
        elif squad in own:
            sel = mine & eligible
            threshold, source = lowest_threshold(confidence[sel], correct[sel], target), "own"
        else:
            threshold, source = glob, "global"
        hit = mine & eligible & (confidence >= threshold) if threshold is not None else mine & False
        assigned |= hit
        n_hit = int(hit.sum())
        points[squad] = SquadPoint(
            threshold=threshold,
            source=source,
            support=int(support.get(squad, 0)),
            predicted=int(mine.sum()),
            assigned=n_hit,
            precision=float(correct[hit].mean()) if n_hit else None,
            coverage=n_hit / int(mine.sum()) if mine.any() else 0.0,
        )
    n = len(predicted)
    notes = []
    if rare:
        notes.append(
            f"{len(rare)} squad(s) with fewer than {min_examples} history cases are never "
            f"assigned from history alone: {', '.join(sorted(rare))}"
        )
    if glob is None and n:
        notes.append(f"no confidence reaches {target:.0%} precision on the history")
    return OperatingPoint(
        target=target,
        min_examples=min_examples,
        global_threshold=glob,
        squads=points,
        precision=float(correct[assigned].mean()) if assigned.any() else None,
        coverage=float(assigned.mean()) if n else 0.0,
        n=n,
        notes=notes,
    )
